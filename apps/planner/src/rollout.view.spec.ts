import type { ComponentState, PodObs } from '@ringmaster/rollout-core';
import { zoneProgress } from './rollout.view';

const c: ComponentState = {
  status: 'running',
  workloads: {
    'ingester-zone-a': { kind: 'StatefulSet', targetRevision: 'r2' },
    'ingester-zone-b': { kind: 'StatefulSet', targetRevision: 'r2' },
  },
  inFlight: {},
  restartedUids: {},
  restarted: 2,
  total: 4,
  maxUnavailableSeen: 2,
};
const pod = (name: string, zone: string, revision: string, ready = true): PodObs => ({
  name,
  uid: `u-${name}`,
  workload: `ingester-${zone}`,
  component: 'ingester',
  zone,
  revision,
  ready,
});

describe('zoneProgress (the worked example of its doc comment)', () => {
  it('counts pods at the target revision and Ready, per zone', () => {
    const pods = Object.fromEntries(
      [
        pod('a-0', 'zone-a', 'r2'),
        pod('a-1', 'zone-a', 'r2'),
        pod('b-0', 'zone-b', 'r1'),
        pod('b-1', 'zone-b', 'r2', false),
      ].map((p) => [p.name, p]),
    );
    expect(zoneProgress(c, pods)).toEqual([
      { zone: 'zone-a', updated: 2, total: 2 },
      { zone: 'zone-b', updated: 0, total: 2 },
    ]);
  });

  it('nothing for components without zones or not observed', () => {
    expect(zoneProgress(c, undefined)).toBeUndefined();
    expect(zoneProgress(c, { x: { ...pod('x', 'zone-a', 'r2') } })).toBeUndefined();
  });
});
