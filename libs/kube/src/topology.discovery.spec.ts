import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { assembleTopology, detectMode, toObservedTarget } from './topology.discovery';
import {
  deployment,
  deploymentPod,
  replicaSet,
  sts,
  stsPod,
  zonedSts,
} from './testing/chart-objects';

/** The fixture's small microservices layout, as the controllers would have made it. */
function microservices() {
  const zones = ['zone-a', 'zone-b', 'zone-c'];
  const statefulSets = [
    ...zones.map((z) => zonedSts('ingester', z, 2)),
    ...zones.map((z) => zonedSts('store-gateway', z, 1)),
    sts('alertmanager', 3),
    sts('compactor', 2),
  ];
  const deployments = [
    'distributor',
    'querier',
    'query-frontend',
    'query-scheduler',
    'ruler',
    'gateway',
  ].map((c) => deployment(c, 2));
  const replicaSets = deployments.flatMap((d) => [
    replicaSet(d, 'old0000', 1),
    replicaSet(d, 'cur1111', 2),
  ]);
  const pods: V1Pod[] = [
    ...statefulSets.flatMap((s) =>
      Array.from({ length: s.spec!.replicas! }, (_, i) =>
        stsPod(s, i, { nodeName: `kwok-${s.metadata!.labels!.zone ?? 'zone-b'}-0` }),
      ),
    ),
    ...deployments.flatMap((d) =>
      ['aaaaa', 'bbbbb'].map((s, i) =>
        deploymentPod(d, 'cur1111', s, { nodeName: `kwok-zone-${'ab'[i]}-0` }),
      ),
    ),
  ];
  return { statefulSets, deployments, replicaSets, pods };
}

const nodes: V1Node[] = ['a', 'b', 'c'].map((z) => ({
  metadata: { name: `kwok-zone-${z}-0`, labels: { 'topology.kubernetes.io/zone': `zone-${z}` } },
}));

describe('assembleTopology', () => {
  it('maps the microservices fixture', () => {
    const t = assembleTopology({ ...microservices(), nodes });
    expect(t.mode).toBe('microservices');
    expect(t.components).toEqual([
      'alertmanager',
      'compactor',
      'distributor',
      'gateway',
      'ingester',
      'querier',
      'query-frontend',
      'query-scheduler',
      'ruler',
      'store-gateway',
    ]);
    expect(t.workloads).toHaveLength(14);
    expect(t.pods).toHaveLength(26);
    expect(t.warnings).toEqual([]);
    const ingesters = t.workloads.filter((w) => w.component === 'ingester');
    expect(
      ingesters.map((w) => [w.name, w.zone, w.updateStrategy, w.maxUnavailablePerZone]),
    ).toEqual([
      ['mimir-ingester-zone-a', 'zone-a', 'OnDelete', 50],
      ['mimir-ingester-zone-b', 'zone-b', 'OnDelete', 50],
      ['mimir-ingester-zone-c', 'zone-c', 'OnDelete', 50],
    ]);
    expect(t.workloads.find((w) => w.name === 'mimir-querier')).toMatchObject({
      kind: 'Deployment',
      updateRevision: 'cur1111',
    });
    // Stateless pods get their node's zone; zoned pods their label.
    expect(t.pods.find((p) => p.name === 'mimir-querier-cur1111-aaaaa')).toMatchObject({
      workload: 'mimir-querier',
      component: 'querier',
      zone: 'zone-a',
    });
    expect(t.pods.filter((p) => p.component === 'ingester').map((p) => p.name)).toEqual([
      'mimir-ingester-zone-a-0',
      'mimir-ingester-zone-a-1',
      'mimir-ingester-zone-b-0',
      'mimir-ingester-zone-b-1',
      'mimir-ingester-zone-c-0',
      'mimir-ingester-zone-c-1',
    ]);
  });

  it('maps the monolithic fixture', () => {
    const mono = sts('all', 3, { name: 'mimir' });
    const t = assembleTopology({
      statefulSets: [mono],
      deployments: [],
      pods: [0, 1, 2].map((i) => stsPod(mono, i)),
    });
    expect(t).toMatchObject({ mode: 'monolithic', components: ['all'] });
    expect(t.pods.map((p) => [p.name, p.workload, p.component])).toEqual([
      ['mimir-0', 'mimir', 'all'],
      ['mimir-1', 'mimir', 'all'],
      ['mimir-2', 'mimir', 'all'],
    ]);
  });

  it('ignores (with a warning) pods of no listed workload, e.g. a Job', () => {
    const job: V1Pod = {
      metadata: {
        name: 'smoke-test-x',
        labels: { 'app.kubernetes.io/component': 'smoke-test' },
        ownerReferences: [
          { apiVersion: 'batch/v1', kind: 'Job', name: 'smoke-test', uid: 'j', controller: true },
        ],
      },
    };
    const t = assembleTopology({ statefulSets: [], deployments: [], pods: [job] });
    expect(t.pods).toEqual([]);
    expect(t.warnings[0]).toMatch(/smoke-test-x .* belongs to no StatefulSet\/Deployment/);
  });

  it('overrides map other layouts', () => {
    const backend = sts('backend', 3, { name: 'mimir-backend' });
    const t = assembleTopology(
      { statefulSets: [backend], deployments: [], pods: [stsPod(backend, 0)] },
      { componentOverrides: { 'mimir-backend': 'store-gateway' } },
    );
    expect(t.components).toEqual(['store-gateway']);
    expect(t.pods[0].component).toBe('store-gateway');
  });

  it('a pod takes its workload component even if its own labels drifted', () => {
    const am = sts('alertmanager', 1);
    const p = stsPod(am, 0);
    p.metadata!.labels!['app.kubernetes.io/component'] = 'old-name';
    expect(
      assembleTopology({ statefulSets: [am], deployments: [], pods: [p] }).pods[0].component,
    ).toBe('alertmanager');
  });
});

describe('detectMode', () => {
  it.each<[string[], string]>([
    [['all'], 'monolithic'],
    [['all', 'gateway'], 'monolithic'],
    [['mimir'], 'monolithic'],
    [['ingester', 'distributor'], 'microservices'],
    [['all', 'ingester'], 'microservices'],
    [[], 'microservices'],
  ])('%j -> %s', (components, mode) => expect(detectMode(components)).toBe(mode));
});

describe('toObservedTarget', () => {
  it('indexes workloads by name and pods by component and name', () => {
    const mono = sts('all', 2, { name: 'mimir' });
    const o = toObservedTarget(
      assembleTopology({
        statefulSets: [mono],
        deployments: [],
        pods: [stsPod(mono, 0), stsPod(mono, 1)],
      }),
    );
    expect(Object.keys(o.workloads)).toEqual(['mimir']);
    expect(Object.keys(o.pods.all)).toEqual(['mimir-0', 'mimir-1']);
  });
});
