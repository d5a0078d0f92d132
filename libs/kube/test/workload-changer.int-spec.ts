/**
 * (b) A template change on an OnDelete StatefulSet restarts nothing; an evicted pod comes back
 * with a new uid at the update revision, and the watch sees it NotReady, then Ready.
 * Plus: idempotent re-apply (no new generation), the RollingUpdate refusal and take-over,
 * a Deployment roll with maxUnavailable from the policy, pause/resume.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { ApplyTemplateCommand, Change, RollDeploymentCommand } from '@ringmaster/rollout-core';
import {
  type KubeClusterClients,
  PodRestarter,
  type ResourceWatch,
  WorkloadChanger,
  toPodObs,
  watchResources,
} from '../src';
import {
  createAll,
  createNamespace,
  deleteNamespace,
  firstCluster,
  loadTestClusters,
  testDeployment,
  testStatefulSet,
  uniqueNamespace,
  waitFor,
} from './kube-test.env';

jest.setTimeout(120_000);

interface Seen {
  uid: string;
  revision: string;
  ready: boolean;
}

describe('WorkloadChanger + PodRestarter + watch against a real API server (kwok)', () => {
  const clusters = loadTestClusters();
  const c: KubeClusterClients = firstCluster(clusters);
  const ns = uniqueNamespace('change');
  const changer = new WorkloadChanger(clusters);
  const restarter = new PodRestarter(clusters);
  const timeline = new Map<string, Seen[]>();
  let watch: ResourceWatch;

  const record = (p: V1Pod) => {
    const o = toPodObs(p);
    const list = timeline.get(o.name) ?? [];
    const last = list[list.length - 1];
    if (!last || last.uid !== o.uid || last.ready !== o.ready || last.revision !== o.revision)
      list.push({ uid: o.uid, revision: o.revision, ready: o.ready });
    timeline.set(o.name, list);
  };

  const apply = (workload: string, change: Change, takeOver = false): ApplyTemplateCommand => ({
    kind: 'apply-template',
    id: `it:${workload}`,
    rolloutId: 'rollout-it-1',
    target: { cluster: c.name, namespace: ns },
    workload,
    change,
    takeOver,
  });

  const readSts = (name: string) => c.apps.readNamespacedStatefulSet({ name, namespace: ns });
  const podsReady = (set: string, n: number) =>
    waitFor(`${n} Ready pods of ${set}`, async () => {
      const pods = (await c.core.listNamespacedPod({ namespace: ns, labelSelector: `name=${set}` }))
        .items;
      const ready = pods.filter((p) => toPodObs(p).ready);
      return ready.length === n ? ready : undefined;
    });

  beforeAll(async () => {
    await createNamespace(c, ns);
    await createAll(c, [
      testStatefulSet(ns, 'ingester', 2),
      testStatefulSet(ns, 'legacy', 2, 'RollingUpdate'),
      testDeployment(ns, 'distributor', 4),
    ]);
    await podsReady('ingester', 2);
    await podsReady('legacy', 2);
    await podsReady('distributor', 4);
    watch = watchResources(c, ns, 'pods', {
      onResync: (list) => list.forEach(record),
      onUpsert: record,
      onDelete: () => undefined,
    });
    await watch.synced;
  });

  afterAll(async () => {
    await watch?.stop();
    await deleteNamespace(c, ns);
  });

  it('OnDelete StatefulSet: template change, nothing restarts; eviction brings the pod back at the update revision', async () => {
    const before = await readSts('ingester');
    const oldRevision = before.status!.updateRevision!;
    const pods = await podsReady('ingester', 2);
    const uid0 = pods.find((p) => p.metadata!.name === 'ingester-0')!.metadata!.uid!;

    const r = await changer.applyTemplate(
      c.name,
      apply('ingester', { kind: 'image', image: 'grafana/mimir:2.15.0' }),
    );
    expect(r).toMatchObject({ outcome: 'done', generation: before.metadata!.generation! + 1 });

    // Idempotent: the same command again yields no new generation.
    const again = await changer.applyTemplate(
      c.name,
      apply('ingester', { kind: 'image', image: 'grafana/mimir:2.15.0' }),
    );
    expect(again).toMatchObject({ outcome: 'done', generation: r.generation });
    expect(again.detail).toMatch(/already has the change/);

    const sts = await waitFor('controller observed the new generation', async () => {
      const s = await readSts('ingester');
      return s.status!.observedGeneration! >= r.generation! &&
        s.status!.updateRevision !== oldRevision
        ? s
        : undefined;
    });
    const newRevision = sts.status!.updateRevision!;
    expect(sts.spec!.template.metadata!.annotations).toBeUndefined(); // image change only
    expect(sts.metadata!.annotations!['ringmaster.dev/rollout-id']).toBe('rollout-it-1');

    // OnDelete: nothing restarted by itself.
    await new Promise((res) => setTimeout(res, 1500));
    const still = await c.core.readNamespacedPod({ name: 'ingester-0', namespace: ns });
    expect(still.metadata!.uid).toBe(uid0);
    expect(still.metadata!.labels!['controller-revision-hash']).toBe(oldRevision);

    const ev = await restarter.restartPod(c.name, {
      kind: 'restart-pod',
      id: 'it:r',
      rolloutId: 'rollout-it-1',
      target: { cluster: c.name, namespace: ns },
      pod: 'ingester-0',
      uid: uid0,
      method: 'evict',
    });
    expect(ev.outcome).toBe('done');

    // The watch sees the replacement: new uid, update revision, NotReady first, then Ready.
    const seen = await waitFor('watch sees ingester-0 back and Ready at the new revision', () => {
      const t = timeline.get('ingester-0') ?? [];
      const fresh = t.filter((s) => s.uid !== uid0);
      return fresh.some((s) => s.ready) ? fresh : undefined;
    });
    expect(seen.every((s) => s.revision === newRevision)).toBe(true);
    expect(seen[0].ready).toBe(false);
    expect(seen[seen.length - 1].ready).toBe(true);
    console.log(`ingester-0 timeline: ${JSON.stringify(timeline.get('ingester-0'))}`);
  });

  it('refuses a RollingUpdate StatefulSet by name unless taken over; take-over switches to OnDelete without restarting', async () => {
    const refused = await changer.applyTemplate(c.name, apply('legacy', { kind: 'restart' }));
    expect(refused.outcome).toBe('failed');
    expect(refused.detail).toMatch(
      new RegExp(`StatefulSet ${ns}/legacy uses updateStrategy RollingUpdate`),
    );
    const uids = (await podsReady('legacy', 2)).map((p) => p.metadata!.uid).sort();

    const taken = await changer.applyTemplate(c.name, apply('legacy', { kind: 'restart' }, true));
    expect(taken.outcome).toBe('done');
    const s = await readSts('legacy');
    expect(s.spec!.updateStrategy).toEqual({ type: 'OnDelete' });
    expect(s.spec!.template.metadata!.annotations!['ringmaster.dev/restarted-by']).toBe(
      'rollout-it-1',
    );
    await new Promise((res) => setTimeout(res, 2000));
    const after = (await podsReady('legacy', 2)).map((p) => p.metadata!.uid).sort();
    expect(after).toEqual(uids);
  });

  it('rolls a Deployment with maxUnavailable from the policy (maxSurge kept), idempotently; pauses and resumes', async () => {
    // `as`: minReadySeconds is newer than some checkouts of the model.
    const cmd = {
      kind: 'roll-deployment',
      id: 'it:d',
      rolloutId: 'rollout-it-1',
      target: { cluster: c.name, namespace: ns },
      workload: 'distributor',
      change: { kind: 'restart' },
      maxUnavailable: 2,
      minReadySeconds: 1,
    } as RollDeploymentCommand;
    const before = await c.apps.readNamespacedDeployment({ name: 'distributor', namespace: ns });
    const r = await changer.rollDeployment(c.name, cmd);
    expect(r).toMatchObject({ outcome: 'done', generation: before.metadata!.generation! + 1 });
    const again = await changer.rollDeployment(c.name, cmd);
    expect(again.generation).toBe(r.generation);

    const d = await c.apps.readNamespacedDeployment({ name: 'distributor', namespace: ns });
    expect(d.spec!.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: '15%', maxUnavailable: 2 },
    });
    await waitFor('Deployment rolled', async () => {
      const x = await c.apps.readNamespacedDeployment({ name: 'distributor', namespace: ns });
      const st = x.status!;
      return (
        st.observedGeneration! >= r.generation! &&
        st.updatedReplicas === 4 &&
        st.availableReplicas === 4 &&
        st.replicas === 4
      );
    });

    const paused = await changer.setDeploymentPaused(c.name, {
      kind: 'set-deployment-paused',
      id: 'it:p',
      rolloutId: 'rollout-it-1',
      target: { cluster: c.name, namespace: ns },
      workload: 'distributor',
      paused: true,
    });
    expect(paused.outcome).toBe('done');
    expect(
      (await c.apps.readNamespacedDeployment({ name: 'distributor', namespace: ns })).spec!.paused,
    ).toBe(true);
    await changer.setDeploymentPaused(c.name, {
      kind: 'set-deployment-paused',
      id: 'it:p2',
      rolloutId: 'rollout-it-1',
      target: { cluster: c.name, namespace: ns },
      workload: 'distributor',
      paused: false,
    });
    expect(
      (await c.apps.readNamespacedDeployment({ name: 'distributor', namespace: ns })).spec!.paused,
    ).toBeFalsy();
  });

  it('a missing workload or container fails permanently with the reason', async () => {
    await expect(
      changer.applyTemplate(c.name, apply('nope', { kind: 'restart' })),
    ).resolves.toEqual({ outcome: 'failed', detail: `StatefulSet ${c.name}/${ns}/nope not found` });
    const r = await changer.applyTemplate(
      c.name,
      apply('ingester', { kind: 'image', image: 'x', container: 'sidecar' }),
    );
    expect(r).toMatchObject({
      outcome: 'failed',
      detail: expect.stringMatching(/no container "sidecar"/),
    });
  });
});
