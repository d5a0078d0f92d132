import { deployment, replicaSet, sts, zonedSts } from './testing/chart-objects';
import {
  deploymentRevision,
  deploymentToWorkloadObs,
  statefulSetToWorkloadObs,
  toWorkloadObs,
} from './workload-state.mapper';

/** Like toMatchObject, but `undefined` means "absent or undefined". */
function expectFields(actual: object, expected: object) {
  const a = actual as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected)) expect([k, a[k]]).toEqual([k, v]);
}

describe('statefulSetToWorkloadObs', () => {
  it('maps the chart zoned ingester set (worked example of the doc comment)', () => {
    const set = zonedSts('ingester', 'zone-a', 2, {
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 1,
      updateRevision: 'mimir-ingester-zone-a-6b8f9',
    });
    set.metadata!.generation = 4;
    set.status!.observedGeneration = 4;
    expect(statefulSetToWorkloadObs(set)).toEqual({
      name: 'mimir-ingester-zone-a',
      kind: 'StatefulSet',
      component: 'ingester',
      zone: 'zone-a',
      updateStrategy: 'OnDelete',
      replicas: 2,
      generation: 4,
      observedGeneration: 4,
      updateRevision: 'mimir-ingester-zone-a-6b8f9',
      statusReplicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 1,
      maxUnavailablePerZone: 50,
    });
  });

  it.each<[string, Record<string, string>, object]>([
    [
      'replication factor annotation',
      { 'ringmaster.dev/replication-factor': '5' },
      { replicationFactor: 5 },
    ],
    [
      'malformed replication factor is ignored',
      { 'ringmaster.dev/replication-factor': 'three' },
      { replicationFactor: undefined },
    ],
    [
      'rollout-max-unavailable as a count',
      { 'rollout-max-unavailable': '2' },
      { maxUnavailablePerZone: 2 },
    ],
    [
      'rollout-max-unavailable as a percentage of replicas (10 -> 25% = 2)',
      { 'rollout-max-unavailable': '25%' },
      { maxUnavailablePerZone: 2 },
    ],
    [
      'rollout-max-unavailable 0 is no limit, not a zero limit',
      { 'rollout-max-unavailable': '0' },
      { maxUnavailablePerZone: undefined },
    ],
    [
      'component override annotation on the workload',
      { 'ringmaster.dev/component': 'store-gateway' },
      { component: 'store-gateway' },
    ],
  ])('%s', (_t, annotations, expected) => {
    expectFields(statefulSetToWorkloadObs(sts('compactor', 10, { annotations })), expected);
  });

  it('a RollingUpdate set (or one with no strategy, the API default) is RollingUpdate', () => {
    expect(
      statefulSetToWorkloadObs(sts('compactor', 2, { strategy: 'RollingUpdate' })).updateStrategy,
    ).toBe('RollingUpdate');
    const s = sts('compactor', 2);
    delete s.spec!.updateStrategy;
    expect(statefulSetToWorkloadObs(s).updateStrategy).toBe('RollingUpdate');
  });

  it('the monolithic set is component all, no zone', () => {
    expectFields(statefulSetToWorkloadObs(sts('all', 3, { name: 'mimir' })), {
      name: 'mimir',
      component: 'all',
      zone: undefined,
    });
  });

  it('an empty status reads as zeros (just created)', () => {
    const s = sts('compactor', 2);
    s.status = undefined;
    expect(statefulSetToWorkloadObs(s)).toMatchObject({
      statusReplicas: 0,
      readyReplicas: 0,
      updatedReplicas: 0,
      observedGeneration: 0,
      updateRevision: '',
    });
  });

  it('uses the override map before any label', () => {
    expect(
      statefulSetToWorkloadObs(sts('compactor', 2), {
        componentOverrides: { 'mimir-compactor': 'c' },
      }).component,
    ).toBe('c');
  });
});

describe('deploymentToWorkloadObs', () => {
  const querier = deployment('querier', 4);

  it('maps the chart querier Deployment; without ReplicaSets the revision is gen-<generation>', () => {
    expect(deploymentToWorkloadObs(querier)).toEqual({
      name: 'mimir-querier',
      kind: 'Deployment',
      component: 'querier',
      updateStrategy: 'RollingUpdate',
      replicas: 4,
      generation: 3,
      observedGeneration: 3,
      updateRevision: 'gen-3',
      statusReplicas: 4,
      readyReplicas: 4,
      availableReplicas: 4,
      updatedReplicas: 4,
      paused: false,
    });
  });

  it('takes the newest owned ReplicaSet pod-template-hash as the revision', () => {
    const other = deployment('distributor', 2);
    const rss = [
      replicaSet(querier, 'old111', 1),
      replicaSet(querier, 'new222', 2),
      replicaSet(other, 'dist99', 7),
    ];
    expect(deploymentRevision(querier, rss)).toBe('new222');
    expect(deploymentToWorkloadObs(querier, { replicaSets: rss }).updateRevision).toBe('new222');
    expect(deploymentRevision(other, rss)).toBe('dist99');
  });

  it('reports paused', () => {
    const d = deployment('ruler', 2);
    d.spec!.paused = true;
    expect(toWorkloadObs('Deployment', d).paused).toBe(true);
  });
});
