import { plan } from './plan';
import type { RolloutSpec, WorkloadObs } from './model';
import { workloadObs } from './testing/workload-obs.fixture';

const w = (
  name: string,
  component: string,
  kind: WorkloadObs['kind'],
  replicas: number,
  zone?: string,
  extra: Partial<WorkloadObs> = {},
) => workloadObs(name, component, kind, replicas, { zone, ...extra });
const spec = (extra: Partial<RolloutSpec> = {}): RolloutSpec => ({
  targets: [{ cluster: 'prod', namespace: 'mimir' }],
  change: { kind: 'restart' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 600,
  restartMethod: 'evict',
  maxParallelTargets: 1,
  ...extra,
});
const zones = ['a', 'b', 'c'].map((z) =>
  w(`ingester-zone-${z}`, 'ingester', 'StatefulSet', 10, `zone-${z}`),
);

describe('plan(): the worked example of its doc comment', () => {
  it('3 zones x 10 ingesters, 30 s each -> 3 waves, one zone each, ETA ~90 s', () => {
    const p = plan({ 'prod/mimir': zones }, spec(), { restartSeconds: { default: 30 } });
    if (!p.ok) throw new Error(p.errors.join('; '));
    const ingester = p.targets[0].components[0];
    expect(ingester.waves.map((x) => [x.zone, x.pods.length])).toEqual([
      ['zone-a', 10],
      ['zone-b', 10],
      ['zone-c', 10],
    ]);
    expect(ingester.etaSeconds).toBeGreaterThanOrEqual(90);
    expect(ingester.etaSeconds).toBeLessThan(93);
    expect(p.etaSeconds).toBe(ingester.etaSeconds);
  });

  it('a Deployment of 12 at 25%: the ETA counts four rounds of its controller', () => {
    const p = plan({ 'prod/mimir': [w('querier', 'querier', 'Deployment', 12)] }, spec(), {
      restartSeconds: { default: 30 },
    });
    expect(p.ok && p.targets[0].components[0].etaSeconds).toBeGreaterThanOrEqual(120);
  });
});

describe('plan(): what it refuses, each problem named', () => {
  it.each([
    [
      'an unknown target',
      {},
      spec({ targets: [{ cluster: 'nope', namespace: 'mimir' }] }),
      'targets: nope/mimir is unknown',
    ],
    [
      'an unknown component',
      { 'prod/mimir': zones },
      spec({ components: ['ruler'] }),
      'components: ruler not found in prod/mimir (has ingester)',
    ],
    [
      'an unsafe override',
      { 'prod/mimir': zones },
      spec({ overrides: { ingester: { maxUnavailableZones: 2 } } }),
      'overrides.ingester.maxUnavailableZones: 2 exceeds',
    ],
    [
      'a RollingUpdate StatefulSet without takeOver',
      {
        'prod/mimir': [
          w('ingester', 'ingester', 'StatefulSet', 3, undefined, {
            updateStrategy: 'RollingUpdate',
          }),
        ],
      },
      spec(),
      'StatefulSet prod/mimir/ingester uses updateStrategy RollingUpdate',
    ],
  ])('%s', (_name, topology, s, message) => {
    const p = plan(topology, s);
    expect(p.ok).toBe(false);
    expect(!p.ok && p.errors.join('\n')).toContain(message);
  });
});
