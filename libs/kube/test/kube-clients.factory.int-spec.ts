/**
 * (e) Two clusters at once, each reached through its own context and its own KubeConfig:
 * objects created in one are invisible in the other, and watches on both run side by side.
 * Needs two contexts (`scripts/cluster.sh up --clusters 2`).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { type KubeClusterClients, ResourceWatcher, loadClusters } from '../src';
import {
  createNamespace,
  deleteNamespace,
  loadTestClusters,
  testKubeconfigPath,
  uniqueNamespace,
  waitFor,
} from './kube-test.env';

jest.setTimeout(60_000);

describe('loadClusters: one KubeConfig per cluster (kwok)', () => {
  const clusters = loadTestClusters();
  const [a, b] = [...clusters.values()] as [KubeClusterClients, KubeClusterClients | undefined];
  const ns = uniqueNamespace('two');

  beforeAll(() => {
    if (!b)
      throw new Error(
        `two clusters needed, got ${clusters.size} (${[...clusters.keys()].join(', ')}): scripts/cluster.sh up --clusters 2`,
      );
  });

  afterAll(async () => {
    await deleteNamespace(a, ns);
    if (b) await deleteNamespace(b, ns);
  });

  it('pins each cluster to its own context, server and KubeConfig object', () => {
    expect(a.kc).not.toBe(b!.kc);
    expect(a.kc.getCurrentContext()).toBe(a.context);
    expect(b!.kc.getCurrentContext()).toBe(b!.context);
    expect(a.server).not.toBe(b!.server);
  });

  it('reaches each cluster through its own context: same namespace name, different objects', async () => {
    await createNamespace(a, ns, { 'ringmaster.dev/cluster': a.name });
    await createNamespace(b!, ns, { 'ringmaster.dev/cluster': b!.name });
    const labelOf = async (c: KubeClusterClients) =>
      (await c.core.readNamespace({ name: ns })).metadata!.labels!['ringmaster.dev/cluster'];
    expect(await labelOf(a)).toBe(a.name);
    expect(await labelOf(b!)).toBe(b!.name);

    // Watches on both clusters at once: each sees only its own pod.
    const seen: Record<string, string[]> = { [a.name]: [], [b!.name]: [] };
    const watcher = new ResourceWatcher(clusters);
    const ws = [a, b!].map((c) =>
      watcher.watch(c.name, ns, 'pods', {
        onResync: () => undefined,
        onUpsert: (p: V1Pod) =>
          void (seen[c.name].includes(p.metadata!.name!) || seen[c.name].push(p.metadata!.name!)),
        onDelete: () => undefined,
      }),
    );
    await Promise.all(ws.map((w) => w.synced));
    for (const c of [a, b!]) {
      await c.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: `only-in-${c.name}` },
          spec: {
            containers: [{ name: 'main', image: 'busybox' }],
            terminationGracePeriodSeconds: 0,
          },
        },
      });
    }
    await waitFor(
      'both watches saw their pod',
      () => seen[a.name].length > 0 && seen[b!.name].length > 0,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual({ [a.name]: [`only-in-${a.name}`], [b!.name]: [`only-in-${b!.name}`] });
    await Promise.all(ws.map((w) => w.stop()));
  });

  it('names clusters by `name=context` and fails fast on an unknown context', () => {
    const kubeconfigPath = testKubeconfigPath();
    const named = loadClusters({
      kubeconfigPath,
      contexts: [`east=${a.context}`, `west=${b!.context}`],
    });
    expect([...named.keys()]).toEqual(['east', 'west']);
    expect(named.get('west')!.server).toBe(b!.server);
    expect(() => loadClusters({ kubeconfigPath, contexts: ['no-such-context'] })).toThrow(
      /has no context "no-such-context".*known: /,
    );
    expect(() =>
      loadClusters({ kubeconfigPath, contexts: [`x=${a.context}`, `x=${b!.context}`] }),
    ).toThrow(/cluster name "x" is given twice/);
  });
});
