import { PodStateMessageSchema, WorkloadStateMessageSchema } from '@ringmaster/contracts';
import {
  T0_MS,
  deployment,
  deploymentPod,
  replicaSet,
  sts,
  stsPod,
  zonedSts,
} from '../../../libs/kube/src/testing/chart-objects';
import { TargetStateTracker, type OutgoingMessage } from './target-state.tracker';

const target = { cluster: 'eu-1', namespace: 'mimir-mono' };
const probe = { urlTemplate: 'http://{podIP}:8080/ready', explicitUrl: false };
const NOW = T0_MS + 60_000;

const mono = sts('all', 3, { name: 'mimir' });
const withRv = <T extends { metadata?: { resourceVersion?: string } }>(o: T, rv: string): T => ({
  ...o,
  metadata: { ...o.metadata, resourceVersion: rv },
});

function keysAndProbes(out: OutgoingMessage[]) {
  return out.map((m) =>
    m.value === null
      ? `${m.key} tombstone`
      : `${m.key}${'probe' in m.value && m.value.probe ? ` ${m.value.probe}` : ''}`,
  );
}

describe('TargetStateTracker: pods', () => {
  it('publishes every listed pod as a valid message, keyed cluster/namespace/name', () => {
    const t = new TargetStateTracker(target, probe);
    t.resyncWorkloads('StatefulSet', [mono], NOW);
    const out = t.resyncPods(
      [0, 1, 2].map((i) => withRv(stsPod(mono, i, { ready: i !== 2 }), `5${i}`)),
      NOW,
    );
    expect(keysAndProbes(out)).toEqual([
      'eu-1/mimir-mono/mimir-0 unknown',
      'eu-1/mimir-mono/mimir-1 unknown',
      'eu-1/mimir-mono/mimir-2 failing',
    ]);
    expect(out[0].value).toEqual({
      v: 1,
      type: 'cluster.pod',
      cluster: 'eu-1',
      namespace: 'mimir-mono',
      name: 'mimir-0',
      uid: 'uid-mimir-0',
      workload: 'mimir',
      component: 'all',
      revision: 'mimir-rev1',
      ready: true,
      readySince: T0_MS,
      probe: 'unknown',
      resourceVersion: '50',
      observedAt: NOW,
    });
    for (const m of out) expect(PodStateMessageSchema.safeParse(m.value).success).toBe(true);
  });

  it('publishes nothing when an event changes nothing the planner reads', () => {
    const t = new TargetStateTracker(target, probe);
    t.resyncPods([withRv(stsPod(mono, 0), '50')], NOW);
    expect(t.upsertPod(withRv(stsPod(mono, 0), '51'), NOW + 1)).toEqual([]);
  });

  it('walks a restarted monolithic pod through failing -> unknown -> failing -> ok', () => {
    const t = new TargetStateTracker(target, probe);
    const uid = 'uid-new';
    const since = '2025-01-01T00:05:00Z';
    const probeOf = (out: OutgoingMessage[]) =>
      out.map((m) => (m.value && 'probe' in m.value ? m.value.probe : 'tombstone'));
    expect(probeOf(t.upsertPod(stsPod(mono, 0, { uid, ready: false }), NOW))).toEqual(['failing']);
    expect(probeOf(t.upsertPod(stsPod(mono, 0, { uid, readySince: since }), NOW))).toEqual([
      'unknown',
    ]);
    const readySince = Date.parse(since);
    expect(probeOf(t.applyProbe('mimir-0', uid, readySince, 'failing', NOW))).toEqual(['failing']);
    expect(t.applyProbe('mimir-0', uid, readySince, 'failing', NOW)).toEqual([]);
    // An answer about an older incarnation or an older Ready transition is dropped.
    expect(t.applyProbe('mimir-0', 'uid-old', readySince, 'ok', NOW)).toEqual([]);
    expect(t.applyProbe('mimir-0', uid, T0_MS, 'ok', NOW)).toEqual([]);
    expect(probeOf(t.applyProbe('mimir-0', uid, readySince, 'ok', NOW))).toEqual(['ok']);
    // The same incarnation, still Ready: the answer stays.
    expect(t.upsertPod(withRv(stsPod(mono, 0, { uid, readySince: since }), '99'), NOW)).toEqual([]);
    // Not Ready again: failing, without asking.
    expect(probeOf(t.upsertPod(stsPod(mono, 0, { uid, ready: false }), NOW))).toEqual(['failing']);
  });

  it('never repeats an observedAt for a key, even within one millisecond', () => {
    const t = new TargetStateTracker(target, probe);
    const [first] = t.resyncPods([stsPod(mono, 0)], NOW);
    const [second] = t.applyProbe('mimir-0', 'uid-mimir-0', T0_MS, 'ok', NOW);
    expect(first.value?.observedAt).toBe(NOW);
    expect(second.value).toMatchObject({
      resourceVersion: first.value!.resourceVersion,
      probe: 'ok',
    });
    expect(second.value?.observedAt).toBe(NOW + 1);
  });

  it('does not probe components that are not configured for it', () => {
    const t = new TargetStateTracker({ cluster: 'eu-1', namespace: 'mimir' }, probe);
    const set = zonedSts('ingester', 'zone-a', 1);
    const [m] = t.resyncPods([stsPod(set, 0)], NOW);
    expect(m.value).not.toHaveProperty('probe');
    expect(t.probeCandidates()).toEqual([]);
  });

  it('tombstones a deleted pod, but not on a stale delete of an older incarnation', () => {
    const t = new TargetStateTracker(target, probe);
    t.resyncPods([stsPod(mono, 0, { uid: 'u2' })], NOW);
    expect(t.deletePod(stsPod(mono, 0, { uid: 'u1' }))).toEqual([]);
    expect(t.deletePod(stsPod(mono, 0, { uid: 'u2' }))).toEqual([
      { topic: 'pods', key: 'eu-1/mimir-mono/mimir-0', value: null },
    ]);
  });

  it('a re-list republishes everything and tombstones what vanished', () => {
    const t = new TargetStateTracker(target, probe);
    t.resyncPods(
      [0, 1, 2].map((i) => stsPod(mono, i)),
      NOW,
    );
    const out = t.resyncPods(
      [0, 1].map((i) => stsPod(mono, i)),
      NOW + 1,
    );
    expect(keysAndProbes(out)).toEqual([
      'eu-1/mimir-mono/mimir-0 unknown',
      'eu-1/mimir-mono/mimir-1 unknown',
      'eu-1/mimir-mono/mimir-2 tombstone',
    ]);
  });

  it('lists Ready probed pods as probe candidates with their URL', () => {
    const t = new TargetStateTracker(target, probe);
    t.resyncPods([stsPod(mono, 0), stsPod(mono, 1, { ready: false })], NOW);
    expect(t.probeCandidates()).toEqual([
      {
        target,
        pod: 'mimir-0',
        uid: 'uid-mimir-0',
        readySince: T0_MS,
        url: 'http://10.0.0.1:8080/ready',
      },
    ]);
  });
});

describe('TargetStateTracker: workloads', () => {
  const ns = { cluster: 'eu-1', namespace: 'mimir' };

  it('holds Deployments back until ReplicaSets were listed, then carries the hash', () => {
    const t = new TargetStateTracker(ns, probe);
    const d = deployment('querier', 2);
    expect(t.resyncWorkloads('Deployment', [d], NOW)).toEqual([]);
    const out = t.resyncReplicaSets([replicaSet(d, 'aaa111', 1), replicaSet(d, 'bbb222', 2)], NOW);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      topic: 'workloads',
      key: 'eu-1/mimir/mimir-querier',
      value: { kind: 'Deployment', component: 'querier', updateRevision: 'bbb222' },
    });
    expect(WorkloadStateMessageSchema.safeParse(out[0].value).success).toBe(true);
  });

  it('republishes a Deployment when a new ReplicaSet changes its revision, not otherwise', () => {
    const t = new TargetStateTracker(ns, probe);
    const d = deployment('querier', 2);
    t.resyncWorkloads('Deployment', [d], NOW);
    t.resyncReplicaSets([replicaSet(d, 'bbb222', 2)], NOW);
    expect(t.upsertReplicaSet(replicaSet(d, 'aaa111', 1), NOW)).toEqual([]);
    const out = t.upsertReplicaSet(replicaSet(d, 'ccc333', 3), NOW + 5);
    expect(out).toMatchObject([
      { key: 'eu-1/mimir/mimir-querier', value: { updateRevision: 'ccc333', observedAt: NOW + 5 } },
    ]);
  });

  it('a StatefulSet re-list does not tombstone Deployments', () => {
    const t = new TargetStateTracker(ns, probe);
    const d = deployment('querier', 2);
    t.resyncReplicaSets([], NOW);
    t.resyncWorkloads('Deployment', [d], NOW);
    t.resyncWorkloads('StatefulSet', [zonedSts('ingester', 'zone-a', 2)], NOW);
    const out = t.resyncWorkloads('StatefulSet', [], NOW);
    expect(out).toEqual([
      { topic: 'workloads', key: 'eu-1/mimir/mimir-ingester-zone-a', value: null },
    ]);
    expect(t.workloadObs('mimir-querier')).toBeDefined();
  });

  it("gives pods their workload's component, and republishes them when it changes", () => {
    const t = new TargetStateTracker(ns, probe);
    const backend = sts('store-gateway', 1, { name: 'mimir-backend' });
    t.resyncWorkloads('StatefulSet', [backend], NOW);
    t.resyncPods([stsPod(backend, 0)], NOW);
    expect(t.podObs('mimir-backend-0')?.component).toBe('store-gateway');
    const relabelled = withRv(
      {
        ...backend,
        metadata: { ...backend.metadata, annotations: { 'ringmaster.dev/component': 'all' } },
      },
      '200',
    );
    const out = t.upsertWorkload('StatefulSet', relabelled, NOW + 1);
    // The workload, then its pod, now component `all` and therefore probed.
    expect(keysAndProbes(out)).toEqual([
      'eu-1/mimir/mimir-backend',
      'eu-1/mimir/mimir-backend-0 unknown',
    ]);
    expect(out[1].value).toMatchObject({ component: 'all' });
  });

  it('tombstones what a previous run published that this target does not have', () => {
    const t = new TargetStateTracker(ns, probe);
    const d = deployment('querier', 1);
    t.resyncReplicaSets([replicaSet(d, 'aaa111', 1)], NOW);
    t.resyncWorkloads('Deployment', [d], NOW);
    t.resyncPods([deploymentPod(d, 'aaa111', 'x1')], NOW);
    expect(
      t.tombstonesForUnknown('pods', ['mimir-querier-aaa111-x1', 'mimir-querier-aaa111-gone']),
    ).toEqual([{ topic: 'pods', key: 'eu-1/mimir/mimir-querier-aaa111-gone', value: null }]);
    expect(t.tombstonesForUnknown('workloads', ['mimir-querier', 'mimir-old'])).toEqual([
      { topic: 'workloads', key: 'eu-1/mimir/mimir-old', value: null },
    ]);
  });
});
