import { toPodStateMessage, toWorkloadStateMessage } from '@ringmaster/contracts';
import type { PodObs, WorkloadObs } from '@ringmaster/rollout-core';
import { ObservedStateStore } from './observed-state.store';

const target = { cluster: 'c1', namespace: 'mimir' };
const pod = (name: string, extra: Partial<PodObs> = {}): PodObs => ({
  name,
  uid: `uid-${name}`,
  workload: 'ingester-zone-a',
  component: 'ingester',
  zone: 'zone-a',
  revision: 'r1',
  ready: true,
  ...extra,
});
const workload: WorkloadObs = {
  name: 'ingester-zone-a',
  kind: 'StatefulSet',
  component: 'ingester',
  zone: 'zone-a',
  updateStrategy: 'OnDelete',
  replicas: 2,
  generation: 1,
  observedGeneration: 1,
  updateRevision: 'r1',
  statusReplicas: 2,
  readyReplicas: 2,
  availableReplicas: 2,
  updatedReplicas: 2,
};
const podMsg = (p: PodObs, rv: string, at = 1) =>
  toPodStateMessage(target, p, { resourceVersion: rv, observedAt: at });
const KEY = 'c1/mimir/ingester-zone-a-0';

describe('ObservedStateStore', () => {
  it('indexes pods by target and component, as decide() reads them', () => {
    const s = new ObservedStateStore();
    expect(s.applyPod(KEY, podMsg(pod('ingester-zone-a-0'), '10'))).toEqual({
      target: 'c1/mimir',
      component: 'ingester',
    });
    s.applyWorkload(
      'c1/mimir/ingester-zone-a',
      toWorkloadStateMessage(target, workload, { resourceVersion: '9', observedAt: 1 }),
    );
    expect(s.fleet['c1/mimir']?.pods.ingester['ingester-zone-a-0'].uid).toBe(
      'uid-ingester-zone-a-0',
    );
    expect(s.targets()).toEqual(['c1/mimir']);
    expect(s.clusters()).toEqual(['c1']);
    expect(s.workloads('c1/mimir')?.map((w) => w.name)).toEqual(['ingester-zone-a']);
  });

  it.each([
    ['an older resourceVersion is ignored', '9', 5, false],
    ['the same resourceVersion observed earlier is ignored', '10', 1, false],
    ['the same resourceVersion observed later wins (a /ready result)', '10', 2, true],
    ['a newer resourceVersion wins', '11', 1, true],
  ])('%s', (_name, rv, at, applied) => {
    const s = new ObservedStateStore();
    s.applyPod(KEY, podMsg(pod('ingester-zone-a-0', { probe: 'failing' }), '10', 1));
    const change = s.applyPod(KEY, podMsg(pod('ingester-zone-a-0', { probe: 'ok' }), rv, at));
    expect(change !== undefined).toBe(applied);
    expect(s.fleet['c1/mimir']?.pods.ingester['ingester-zone-a-0'].probe).toBe(
      applied ? 'ok' : 'failing',
    );
  });

  it('a tombstone removes the pod; a tombstone for an unknown key changes nothing', () => {
    const s = new ObservedStateStore();
    s.applyPod(KEY, podMsg(pod('ingester-zone-a-0'), '10'));
    expect(s.applyPod(KEY, null)).toEqual({ target: 'c1/mimir', component: 'ingester' });
    expect(s.fleet['c1/mimir']?.pods.ingester).toEqual({});
    expect(s.applyPod('c1/mimir/nope', null)).toBeUndefined();
  });

  it('a recreated pod (same name, new uid) replaces the old one', () => {
    const s = new ObservedStateStore();
    s.applyPod(KEY, podMsg(pod('ingester-zone-a-0'), '10'));
    s.applyPod(KEY, null);
    s.applyPod(
      KEY,
      podMsg(pod('ingester-zone-a-0', { uid: 'new', revision: 'r2', ready: false }), '12'),
    );
    expect(s.fleet['c1/mimir']?.pods.ingester['ingester-zone-a-0']).toMatchObject({
      uid: 'new',
      revision: 'r2',
      ready: false,
    });
  });

  describe('reachability (cluster.reachability)', () => {
    const reach = (reachable: boolean, observedAt: number, since = 100) => ({
      v: 1 as const,
      type: 'cluster.reachability' as const,
      cluster: 'c1',
      namespace: 'mimir',
      reachable,
      since,
      ...(reachable ? {} : { reason: 'watch pods: connect ECONNREFUSED' }),
      observedAt,
    });

    it('marks the target unreachable, then reachable again, newest message winning', () => {
      const s = new ObservedStateStore();
      s.applyWorkload(
        'c1/mimir/ingester-zone-a',
        toWorkloadStateMessage(target, workload, { resourceVersion: '5', observedAt: 1 }),
      );
      expect(s.applyReachability('c1/mimir', reach(true, 10))).toBeUndefined(); // nothing new
      expect(s.applyReachability('c1/mimir', reach(false, 20))).toEqual({ target: 'c1/mimir' });
      expect(s.fleet['c1/mimir']?.unreachable).toEqual({
        since: 100,
        reason: 'watch pods: connect ECONNREFUSED',
      });
      expect(s.applyReachability('c1/mimir', reach(true, 15))).toBeUndefined(); // older: ignored
      expect(s.fleet['c1/mimir']?.unreachable).toBeDefined();
      expect(s.applyReachability('c1/mimir', reach(true, 30, 30))).toEqual({ target: 'c1/mimir' });
      expect(s.fleet['c1/mimir']?.unreachable).toBeUndefined();
      expect(s.workloads('c1/mimir')).toHaveLength(1); // observations kept throughout
    });

    it('a tombstone forgets what was known (reachable)', () => {
      const s = new ObservedStateStore();
      s.applyReachability('c1/mimir', reach(false, 20));
      expect(s.applyReachability('c1/mimir', null)).toEqual({ target: 'c1/mimir' });
      expect(s.fleet['c1/mimir']?.unreachable).toBeUndefined();
      expect(s.applyReachability('c1/mimir', null)).toBeUndefined();
    });
  });
});
