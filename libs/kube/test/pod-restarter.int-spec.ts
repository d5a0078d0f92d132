/**
 * (a) An eviction blocked by a PodDisruptionBudget gets 429, is retried with backoff, and
 * succeeds once the budget allows it; it is never turned into a delete.
 *
 * How: a 3-replica StatefulSet and a PDB with minAvailable 3 (no disruption allowed). The
 * restart starts; on its first refusal the test relaxes the PDB to minAvailable 2 by a patch;
 * the disruption controller recomputes disruptionsAllowed = 1 and the next retry evicts.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { RestartPodCommand } from '@ringmaster/rollout-core';
import { type EvictionRefusal, type KubeClusterClients, PodRestarter } from '../src';
import {
  createAll,
  createNamespace,
  deleteNamespace,
  firstCluster,
  loadTestClusters,
  testStatefulSet,
  uniqueNamespace,
  waitFor,
} from './kube-test.env';

jest.setTimeout(120_000);

describe('PodRestarter against a real API server (kwok)', () => {
  const clusters = loadTestClusters();
  const c: KubeClusterClients = firstCluster(clusters);
  const ns = uniqueNamespace('evict');
  const restarter = new PodRestarter(clusters);
  const cmd = (
    pod: string,
    uid: string,
    method: 'evict' | 'delete' = 'evict',
  ): RestartPodCommand => ({
    kind: 'restart-pod',
    id: `it:${pod}:${uid}`,
    rolloutId: 'it',
    target: { cluster: c.name, namespace: ns },
    pod,
    uid,
    method,
  });

  const readyPod = (name: string) =>
    waitFor(`pod ${name} Ready`, async () => {
      const p = await c.core.readNamespacedPod({ name, namespace: ns });
      return !p.metadata?.deletionTimestamp &&
        p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')
        ? p
        : undefined;
    });

  const setMinAvailable = (n: number) =>
    c.policy.patchNamespacedPodDisruptionBudget(
      { name: 'pdb-set', namespace: ns, body: { spec: { minAvailable: n } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

  const budgetSettled = (allowed: number) =>
    waitFor(`PDB disruptionsAllowed = ${allowed}`, async () => {
      const p = await c.policy.readNamespacedPodDisruptionBudget({
        name: 'pdb-set',
        namespace: ns,
      });
      return (
        p.status?.observedGeneration === p.metadata?.generation &&
        p.status?.disruptionsAllowed === allowed &&
        p.status?.currentHealthy === 3
      );
    });

  beforeAll(async () => {
    await createNamespace(c, ns);
    await createAll(c, [
      testStatefulSet(ns, 'pdb-set', 3),
      {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'pdb-set', namespace: ns },
        spec: { minAvailable: 3, selector: { matchLabels: { name: 'pdb-set' } } },
      } as never,
    ]);
    for (const i of [0, 1, 2]) await readyPod(`pdb-set-${i}`);
    await budgetSettled(0);
  });

  afterAll(() => deleteNamespace(c, ns));

  it('retries a PDB refusal (429) with backoff and evicts once the budget is relaxed', async () => {
    const pod = await readyPod('pdb-set-0');
    const uid = pod.metadata!.uid!;
    const refusals: EvictionRefusal[] = [];
    let relaxed: Promise<unknown> | undefined;
    const t0 = Date.now();
    const result = await restarter.restartPod(c.name, cmd('pdb-set-0', uid), {
      refusalDeadlineMs: 60_000,
      backoff: { initialMs: 200, maxMs: 2000, factor: 2 },
      onRefused: (r) => {
        refusals.push(r);
        // First refusal: relax the budget while the restart keeps retrying.
        relaxed ??= setMinAvailable(2);
      },
    });
    await relaxed;
    expect(result.outcome).toBe('done');
    expect(result.detail).toMatch(/evicted \(uid .*\) after \d+ refusal\(s\)/);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals[0].message).toMatch(/disruption budget/i);
    expect(refusals[0].retryInMs).toBeGreaterThan(0);
    console.log(
      `eviction: ${refusals.length} refusal(s), done after ${Date.now() - t0} ms; first: ${refusals[0].message}`,
    );

    // The StatefulSet controller recreates the pod: same name, new uid, Ready again.
    const back = await readyPod('pdb-set-0');
    expect(back.metadata!.uid).not.toBe(uid);

    // The same command again: the pod was replaced, nothing to do.
    await expect(restarter.restartPod(c.name, cmd('pdb-set-0', uid))).resolves.toMatchObject({
      outcome: 'already-done',
    });
  });

  it('gives up with `refused` at the deadline, and never deletes the pod', async () => {
    await setMinAvailable(3);
    await readyPod('pdb-set-0');
    await budgetSettled(0);
    const pod = await readyPod('pdb-set-1');
    const refusals: EvictionRefusal[] = [];
    const r = await restarter.restartPod(c.name, cmd('pdb-set-1', pod.metadata!.uid!), {
      refusalDeadlineMs: 1500,
      backoff: { initialMs: 200, maxMs: 1000, factor: 2 },
      onRefused: (x) => refusals.push(x),
    });
    expect(r.outcome).toBe('refused');
    expect(r.detail).toMatch(/eviction refused \d+ time\(s\): Cannot evict pod/);
    expect(refusals[refusals.length - 1].retryInMs).toBeUndefined();
    const still = await c.core.readNamespacedPod({ name: 'pdb-set-1', namespace: ns });
    expect(still.metadata!.uid).toBe(pod.metadata!.uid);
    expect(still.metadata!.deletionTimestamp).toBeUndefined();
  });

  it("method 'delete' bypasses the budget by request, with the uid precondition", async () => {
    const pod = await readyPod('pdb-set-2');
    const r = await restarter.restartPod(c.name, cmd('pdb-set-2', pod.metadata!.uid!, 'delete'));
    expect(r.outcome).toBe('done');
    const back = await readyPod('pdb-set-2');
    expect(back.metadata!.uid).not.toBe(pod.metadata!.uid);
  });

  it('a pod that does not exist is already-done; an unknown cluster fails', async () => {
    await expect(restarter.restartPod(c.name, cmd('no-such-pod', 'x'))).resolves.toMatchObject({
      outcome: 'already-done',
    });
    await expect(restarter.restartPod('no-such-cluster', cmd('x', 'x'))).resolves.toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/unknown cluster "no-such-cluster"/),
    });
  });
});
