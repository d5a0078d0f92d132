/**
 * (c) A watch that gets 410 Gone re-lists and misses no change.
 *
 * How the 410 is forced (no API server flag needed): watches are served from the API
 * server's watch cache, a ring buffer per resource (k8s.io/apiserver storage/cacher,
 * watch_cache.go: at least 100 events, doubled while its oldest event is younger than 75 s,
 * DefaultEventFreshDuration). A watch from a resourceVersion older than the oldest event still
 * in the buffer is answered with an ERROR event, code 410 ("too old resource version"). So the
 * test stops its watch, changes things while nobody watches, waits until 75 s have passed and
 * churns throw-away pods in another namespace until the buffer has dropped the version
 * (probing with a raw watch), then resumes from the old version: the API says 410, the
 * watcher re-lists and hands the full list to onResync, and the consumer's state equals the
 * API's, including the pod deleted while nobody watched. Then it keeps changing pods while the
 * watch reconnects every 3 s (server-side timeout) and checks again.
 *
 * (Resuming from resourceVersion "1" is not enough on a young cluster: the cache accepts any
 * version down to the one it was initialised at, which can be 1.)
 */
import { PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import {
  type KubeClusterClients,
  type ResourceWatch,
  type WatchHandlers,
  watchPath,
  watchResources,
} from '../src';
import {
  createNamespace,
  deleteNamespace,
  firstCluster,
  loadTestClusters,
  uniqueNamespace,
  waitFor,
} from './kube-test.env';

jest.setTimeout(300_000);

function pod(ns: string, name: string, labels: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, namespace: ns, labels: { app: 'watch-it', ...labels } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'main', image: 'busybox' }],
      tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
    },
  };
}

/** Resolves true when a watch from `rv` is answered 410 Gone. */
function isExpired(c: KubeClusterClients, rv: string): Promise<boolean> {
  return new Promise((resolve) => {
    let gone = false;
    let ctrl: AbortController | undefined;
    const timer = setTimeout(() => ctrl?.abort(), 1500);
    new Watch(c.kc)
      .watch(
        watchPath('pods', 'default'),
        { resourceVersion: rv, timeoutSeconds: 1 },
        (type, obj) => {
          if (type === 'ERROR' && (obj as { code?: number }).code === 410) gone = true;
        },
        (err) => {
          clearTimeout(timer);
          resolve(gone || (err as { statusCode?: number } | null)?.statusCode === 410);
        },
      )
      .then((x) => (ctrl = x))
      .catch(() => resolve(false));
  });
}

describe('watchResources against a real API server (kwok)', () => {
  const clusters = loadTestClusters();
  const c = firstCluster(clusters);
  const ns = uniqueNamespace('watch');
  const churnNs = uniqueNamespace('churn');
  const watches: ResourceWatch[] = [];

  /** The consumer: name -> pod, maintained only from the watcher's callbacks. */
  const state = new Map<string, V1Pod>();
  const resyncs: number[] = [];
  const handlers: WatchHandlers<V1Pod> = {
    onResync: (list) => {
      resyncs.push(list.length);
      state.clear();
      for (const p of list) state.set(p.metadata!.name!, p);
    },
    onUpsert: (p) => void state.set(p.metadata!.name!, p),
    onDelete: (p) => void state.delete(p.metadata!.name!),
    onError: (err, info) =>
      console.log(`watch error (${info.phase}, retry in ${info.retryInMs} ms): ${String(err)}`),
  };

  const apiState = async () =>
    new Map(
      (await c.core.listNamespacedPod({ namespace: ns })).items.map((p) => [
        p.metadata!.name!,
        p.metadata!.resourceVersion!,
      ]),
    );
  const consistent = () =>
    waitFor(
      "consumer state equals the API's (names and resourceVersions)",
      async () => {
        const api = await apiState();
        const mine = new Map([...state].map(([n, p]) => [n, p.metadata!.resourceVersion!]));
        return JSON.stringify([...api].sort()) === JSON.stringify([...mine].sort())
          ? api
          : undefined;
      },
      30_000,
    );

  beforeAll(async () => {
    await createNamespace(c, ns);
    await createNamespace(c, churnNs);
  });

  afterAll(async () => {
    for (const w of watches) await w.stop();
    await deleteNamespace(c, ns);
    await deleteNamespace(c, churnNs);
  });

  it('re-lists on 410 Gone, drops what vanished while not watching, then follows every change across reconnects', async () => {
    for (const n of ['a', 'b', 'c'])
      await c.core.createNamespacedPod({ namespace: ns, body: pod(ns, n) });

    // 1. List then watch; see a creation.
    const w1 = watchResources(c, ns, 'pods', handlers, { timeoutSeconds: 30 });
    watches.push(w1);
    await w1.synced;
    expect(resyncs).toEqual([3]);
    await c.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'd') });
    await consistent();
    await w1.stop();
    const rv1 = w1.resourceVersion()!;
    const stoppedAt = Date.now();

    // 2. Changes nobody watches: a delete, a label change, a creation.
    await c.core.deleteNamespacedPod({ name: 'a', namespace: ns, gracePeriodSeconds: 0 });
    await c.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'e') });
    // A merge patch, not read-and-replace: kwok writes the pod's status concurrently and a
    // replace carrying the read resourceVersion lost that race with a 409 in CI.
    await c.core.patchNamespacedPod(
      { name: 'b', namespace: ns, body: { metadata: { labels: { touched: 'yes' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor('pod a gone', async () => !(await apiState()).has('a'));

    // 3. Make rv1 older than the watch cache keeps: 75 s + churn until a probe says 410.
    let batches = 0;
    while (!(await isExpired(c, rv1))) {
      if (Date.now() - stoppedAt > 240_000)
        throw new Error(`rv ${rv1} still served after 240 s and ${batches} churn batches`);
      if (Date.now() - stoppedAt < 76_000) {
        await new Promise((r) => setTimeout(r, 2000));
        continue;
      }
      batches++;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          c.core.createNamespacedPod({
            namespace: churnNs,
            body: pod(churnNs, `churn-${batches}-${i}`),
          }),
        ),
      );
      await new Promise((r) => setTimeout(r, 2000));
      await c.core.deleteCollectionNamespacedPod({ namespace: churnNs, gracePeriodSeconds: 0 });
      await waitFor(
        'churn pods gone',
        async () => (await c.core.listNamespacedPod({ namespace: churnNs })).items.length === 0,
      );
    }
    console.log(
      `rv ${rv1} expired after ${Math.round((Date.now() - stoppedAt) / 1000)} s and ${batches} churn batch(es) of 20 pods`,
    );

    // 4. Resume from rv1: 410, re-list, resync.
    const w2 = watchResources(c, ns, 'pods', handlers, { resumeFrom: rv1, timeoutSeconds: 3 });
    watches.push(w2);
    await waitFor('410 and a re-list', () => w2.stats().gone >= 1 && w2.stats().lists >= 1);
    const api = await consistent();
    expect([...api.keys()].sort()).toEqual(['b', 'c', 'd', 'e']);
    expect(state.has('a')).toBe(false);
    expect(state.get('b')!.metadata!.labels!.touched).toBe('yes');

    // 5. Keep changing while the server closes the watch every 3 s; nothing is missed.
    const watchesBefore = w2.stats().watches;
    for (let i = 0; i < 4; i++) {
      await c.core.createNamespacedPod({ namespace: ns, body: pod(ns, `f${i}`) });
      await c.core.deleteNamespacedPod({
        name: i === 0 ? 'c' : `f${i - 1}`,
        namespace: ns,
        gracePeriodSeconds: 0,
      });
      await new Promise((r) => setTimeout(r, 2500));
    }
    const final = await consistent();
    expect([...final.keys()].sort()).toEqual(['b', 'd', 'e', 'f3']);
    expect(w2.stats().watches - watchesBefore).toBeGreaterThanOrEqual(2);
    expect(w2.stats().gone).toBe(1);
    console.log(`watch stats after reconnects: ${JSON.stringify(w2.stats())}`);
    await w2.stop();
  });

  it('stop() ends the watch: no callback afterwards', async () => {
    let calls = 0;
    const w = watchResources(c, ns, 'pods', {
      onResync: () => void calls++,
      onUpsert: () => void calls++,
      onDelete: () => void calls++,
    });
    watches.push(w);
    await w.synced;
    await w.stop();
    const n = calls;
    await c.core.createNamespacedPod({ namespace: ns, body: pod(ns, 'after-stop') });
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls).toBe(n);
  });
});
