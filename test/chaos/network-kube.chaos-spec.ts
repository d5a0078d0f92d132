/**
 * Chaos, network: the paths to the Kubernetes API. Two kwok clusters; the executor and the
 * health watcher reach them only through fault proxies (their kubeconfig points the contexts
 * there, names unchanged):
 *   - cluster 1 through KubeFaultProxy (HTTPS, answers a seeded share of requests itself);
 *   - cluster 2 through toxiproxy (TCP; the API server's certificate names 127.0.0.1, so TLS
 *     still verifies), whose disable is a cut: every connection refused or closed.
 * The observers and kubectl use the direct kubeconfig. One stack, a namespace per case:
 *
 *   1. cluster cut: one rollout over both clusters (maxParallelTargets 2); when cluster 2's
 *      first StatefulSet pod starts terminating its API is cut off. Cluster 1's target must
 *      succeed meanwhile; cluster 2's must be blocked with "cluster kwok-ringmaster-2
 *      unreachable since <time>: ..." (never succeeded, never a pod timeout), within limits.
 *      Then the cut is healed, the rollout resumed, and it must finish: succeeded.
 *   2. API errors: on cluster 1, 429 (Retry-After 1) and 500 on a share of evictions, 500 and
 *      429 on a share of GETs, 500 on PATCHes, evictions held 3 s then dropped (a reset after
 *      sending), one request that never gets an answer (the executor's own 30 s call timeout),
 *      and a tight PodDisruptionBudget (ingester maxUnavailable 1 while a zone of 2 goes at
 *      once): the API's own refusals. The rollout must succeed, every pod replaced once.
 *
 * Each case: no limit exceeded (the observer's own watch), every pod replaced exactly once,
 * nothing lost (rows, outbox, commands topic, audit trail, results).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { KubeFaultProxy, serverOf, writeKubeconfig } from '../support/kube-fault.proxy';
import { LOG_DIR, deleteNamespace, ensureClusters, runName } from '../support/stack';
import { ensureToxiproxy, type Proxy, type ToxiproxyServer } from '../support/toxiproxy';
import { TERMINAL, postWhenObserved, progressLine, type RolloutView } from '../e2e/e2e.helpers';
import {
  CaseObservers,
  concludeCase,
  expectClean,
  freePort,
  startChaosStack,
  type ChaosStack,
} from './chaos.helpers';

jest.setTimeout(420_000);

const PORT = 18361;

describe('network chaos: Kubernetes API paths', () => {
  const name = runName('chaos-kube');
  const nsCut = `${name}-cut`;
  const nsApi = `${name}-api`;
  let cs: ChaosStack | undefined;
  let tp: ToxiproxyServer | undefined;
  let kube2: Proxy | undefined;
  let faults: KubeFaultProxy | undefined;
  let contexts: string[] = [];

  beforeAll(async () => {
    tp = await ensureToxiproxy();
    const direct = ensureClusters(2);
    contexts = direct.contexts;
    faults = new KubeFaultProxy({ kubeconfig: direct.kubeconfig, context: contexts[0], seed: 5 });
    await faults.start();
    const listen = `127.0.0.1:${await freePort()}`;
    kube2 = await tp.proxy({
      name: `${name}-kube2`,
      listen,
      upstream: serverOf(direct.kubeconfig, contexts[1]).host,
    });
    const proxied = writeKubeconfig(direct.kubeconfig, join(LOG_DIR, `${name}-kubeconfig.json`), {
      [contexts[0]]: faults.endpoint(),
      [contexts[1]]: { server: `https://${listen}` },
    });
    cs = await startChaosStack({
      name,
      plannerPort: PORT,
      clusters: 2,
      namespaces: [nsCut, nsApi],
      env: {
        'health-watcher': { KUBECONFIG: proxied, RINGMASTER_UNREACHABLE_AFTER_MS: '3000' },
        // Retries of a failed call hold the cluster's partition; cap the backoff at 2 s so the
        // case stays short (the default, 10 s, only stretches the same sequence).
        executor: { KUBECONFIG: proxied, EXECUTOR_BACKOFF_MAX_MS: '2000' },
      },
    });
  });

  afterAll(async () => {
    CaseObservers.stopAll();
    await cs?.stack.dispose();
    await faults?.stop();
    await kube2?.delete().catch(() => undefined);
    await tp?.stop();
    for (const c of contexts)
      if (cs) for (const ns of [nsCut, nsApi]) deleteNamespace(cs.kubeconfig, c, ns);
  });

  it('cluster 2 cut off: cluster 1 succeeds, cluster 2 blocks naming its cluster; healed and resumed, all succeed', async () => {
    const { stack, kubeconfig } = cs!;
    const targets = contexts.map((cluster) => ({ cluster, namespace: nsCut }));
    const [key1, key2] = targets.map((t) => `${t.cluster}/${t.namespace}`);
    let cutAt: number | undefined;
    const cut: Promise<void>[] = [];
    const observers = new CaseObservers(kubeconfig, targets, (k, e) => {
      // At the first StatefulSet pod (name-<ordinal>) of cluster 2 going: restarts in flight.
      if (cutAt === undefined && k === key2 && e.what === 'deleting' && /-\d+$/.test(e.pod)) {
        cutAt = Date.now();
        cut.push(kube2!.cut());
      }
    });
    await observers.start();

    const t0 = Date.now();
    const created = await postWhenObserved<RolloutView>(stack, {
      targets,
      change: { kind: 'restart' },
      maxParallelTargets: 2,
      instanceTimeoutSeconds: 120,
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    const target = (r: RolloutView, k: string) => r.targetProgress?.find((t) => t.target === k);
    const blocked = await stack.waitRollout<RolloutView>(
      id,
      (r) =>
        r.status === 'blocked' &&
        target(r, key1)?.status === 'succeeded' &&
        target(r, key2)?.status === 'blocked',
      150_000,
    );
    await Promise.all(cut);
    const since = (ms: number) => `+${((ms - t0) / 1000).toFixed(1)}s`;
    console.log(
      `cut ${contexts[1]} at ${since(cutAt!)}; blocked at ${since(Date.now())}: ${blocked.reason}\n${progressLine(blocked)}`,
    );
    const reason2 = target(blocked, key2)?.reason ?? '';
    expect(reason2).toMatch(
      new RegExp(`^cluster ${contexts[1]} unreachable since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z: `),
    );
    expect(Date.parse(/since (\S+):/.exec(reason2)![1])).toBeGreaterThanOrEqual(cutAt! - 1000);
    expect(blocked.reason).toBe(`${key2}: ${reason2}`);

    await kube2!.heal();
    const healedAt = Date.now();
    const resumed = await stack.api(`/v1/rollouts/${id}/resume`, { method: 'POST', body: {} });
    expect(resumed.status).toBe(200);
    const done = await stack.waitRollout<RolloutView>(
      id,
      (r) => TERMINAL.includes(r.status),
      180_000,
    );
    console.log(`healed at ${since(healedAt)}; ${done.status} at ${since(Date.now())}`);
    expect(done.status).toBe('succeeded');

    const events = await stack.api<{ items: { type: string; message: string }[] }>(
      `/v1/rollouts/${id}/events`,
    );
    expect(events.body.items.map((e) => e.type)).toEqual(
      expect.arrayContaining(['target-unreachable', 'succeeded']),
    );
    // Never a timeout's misleading reason.
    expect(events.body.items.filter((e) => /not back within|no progress/.test(e.message))).toEqual(
      [],
    );

    const outcome = await concludeCase('network-kube-cluster-cut', stack, observers, [id], {
      cutSeconds: Math.round((healedAt - cutAt!) / 1000),
      blockedReason: reason2,
    });
    expectClean(outcome);
  });

  it('429, 500, dropped and unanswered API requests, and PodDisruptionBudget refusals: succeeded, each pod once', async () => {
    const { stack, kubeconfig } = cs!;
    const cluster = contexts[0];
    // Tighter than the policy: a whole ingester zone (2) goes at once, the budget allows 1.
    execFileSync('kubectl', [
      ...['--kubeconfig', kubeconfig, '--context', cluster, '-n', nsApi],
      ...[
        'patch',
        'pdb',
        'mimir-ingester',
        '--type',
        'merge',
        '-p',
        '{"spec":{"maxUnavailable":1}}',
      ],
    ]);
    const eviction = /\/pods\/[^/]+\/eviction$/;
    faults!.setRules([
      {
        name: 'evict-hang-3s',
        method: 'POST',
        path: eviction,
        share: 0.1,
        max: 2,
        fault: { kind: 'hang', ms: 3000 },
      },
      {
        name: 'evict-429',
        method: 'POST',
        path: eviction,
        share: 0.2,
        fault: { kind: 'status', status: 429, retryAfterSeconds: 1 },
      },
      {
        name: 'evict-500',
        method: 'POST',
        path: eviction,
        share: 0.1,
        fault: { kind: 'status', status: 500 },
      },
      {
        name: 'get-no-answer',
        method: 'GET',
        path: /\/pods\/[^/]+$/,
        share: 0.2,
        max: 1,
        fault: { kind: 'hang' },
      },
      { name: 'get-500', method: 'GET', share: 0.1, fault: { kind: 'status', status: 500 } },
      {
        name: 'get-429',
        method: 'GET',
        share: 0.05,
        fault: { kind: 'status', status: 429, retryAfterSeconds: 1 },
      },
      { name: 'patch-500', method: 'PATCH', share: 0.2, fault: { kind: 'status', status: 500 } },
    ]);
    const observers = new CaseObservers(kubeconfig, [{ cluster, namespace: nsApi }]);
    await observers.start();
    const t0 = Date.now();
    let done: RolloutView;
    let id: string;
    try {
      const created = await postWhenObserved<RolloutView>(stack, {
        targets: [{ cluster, namespace: nsApi }],
        change: { kind: 'restart' },
        instanceTimeoutSeconds: 120,
      });
      expect(created.status).toBe(201);
      id = created.body.id;
      done = await stack.waitRollout<RolloutView>(id, (r) => TERMINAL.includes(r.status), 240_000);
    } finally {
      faults!.setRules([]);
    }
    const injected = faults!.stats().injected;
    console.log(
      `${done.status} in ${((Date.now() - t0) / 1000).toFixed(1)}s; injected ${JSON.stringify(injected)}; ${progressLine(done)}`,
    );
    expect(done.status).toBe('succeeded');
    const outcome = await concludeCase('network-kube-api-errors+pdb', stack, observers, [id!], {
      injected,
    });
    // The faults really happened: refusals came back (429s and the PDB), errors were retried.
    expect(injected['evict-429'] ?? 0).toBeGreaterThan(0);
    expect(injected['evict-500'] ?? 0).toBeGreaterThan(0);
    expect((injected['get-500'] ?? 0) + (injected['get-429'] ?? 0)).toBeGreaterThan(0);
    expect(outcome.lost.outcomes.refused ?? 0).toBeGreaterThan(0);
    expectClean(outcome);
  });
});
