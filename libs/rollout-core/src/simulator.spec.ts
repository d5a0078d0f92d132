/**
 * The seed's own cases, run end to end in the simulator; the simulator's observer (not the
 * rollout state) says how many were down at once. The same examples stand in policy.ts.
 */
import { simulate, type SimWorkload, type SimConfig } from './simulator';
import type { RolloutSpec } from './model';

const target = { cluster: 'c1', namespace: 'mimir' };
const spec = (extra: Partial<RolloutSpec> = {}): RolloutSpec => ({
  targets: [target],
  change: { kind: 'restart' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 600,
  restartMethod: 'evict',
  maxParallelTargets: 1,
  ...extra,
});
const sts = (name: string, component: string, replicas: number, zone?: string): SimWorkload => ({
  name,
  kind: 'StatefulSet',
  component,
  replicas,
  zone,
});
const zones = (component: string, n: number) =>
  ['a', 'b', 'c'].map((z) => sts(`${component}-zone-${z}`, component, n, `zone-${z}`));

function run(
  workloads: SimWorkload[],
  extra: Partial<SimConfig> = {},
  s: Partial<RolloutSpec> = {},
) {
  return simulate({
    seed: 7,
    spec: spec(s),
    targets: [{ target, workloads }],
    ready: { mean: 20_000, jitter: 0 },
    ...extra,
  });
}

describe('the seed cases in the simulator', () => {
  it('3 ingesters, RF 3: one at a time, each restarted once', () => {
    const r = run([sts('ingester', 'ingester', 3)]);
    expect(r.state.status).toBe('succeeded');
    expect(r.maxUnavailable['c1/mimir/ingester']).toBe(1);
    expect(r.releases.map((x) => x.pods)).toEqual([['ingester-0'], ['ingester-1'], ['ingester-2']]);
    expect(Object.values(r.restarts)).toEqual([1, 1, 1]);
    expect(r.violations).toEqual([]);
  });

  it('3 zones x 10 ingesters: three waves, one whole zone each', () => {
    const r = run(zones('ingester', 10));
    expect(r.releases.map((x) => [x.zone, x.pods.length])).toEqual([
      ['zone-a', 10],
      ['zone-b', 10],
      ['zone-c', 10],
    ]);
    expect(r.maxUnavailable['c1/mimir/ingester']).toBe(10);
    expect(r.violations).toEqual([]);
  });

  it('6 store-gateways: a pair first, then two at a time as each comes back', () => {
    const r = run([sts('store-gateway', 'store-gateway', 6)]);
    expect(r.releases[0].pods).toEqual(['store-gateway-0', 'store-gateway-1']);
    expect(r.releases.flatMap((x) => x.pods)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => `store-gateway-${i}`),
    );
    expect(r.maxUnavailable['c1/mimir/store-gateway']).toBe(2);
    expect(r.violations).toEqual([]);
  });

  it('5 alertmanagers: at most 2 down, sliding as each comes back', () => {
    const r = run([sts('alertmanager', 'alertmanager', 5)], {
      ready: { mean: 20_000, jitter: 8_000 },
    });
    expect(r.state.status).toBe('succeeded');
    expect(r.maxUnavailable['c1/mimir/alertmanager']).toBe(2);
    expect(r.releases.flatMap((x) => x.pods)).toHaveLength(5);
    expect(r.violations).toEqual([]);
  });

  it('monolithic, 3 instances: each next restart only after the previous answers /ready 200', () => {
    const r = run([sts('mimir', 'mimir', 3)], { probe: { mean: 5_000, jitter: 0 } });
    expect(r.releases.map((x) => x.pods)).toEqual([['mimir-0'], ['mimir-1'], ['mimir-2']]);
    const gaps = r.releases.slice(1).map((x, i) => x.at - r.releases[i].at);
    // terminate 1 s + recreate 0.5 s + Ready 20 s + /ready 5 s, plus watch and command latency
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(26_500);
    expect(r.maxUnavailable['c1/mimir/mimir']).toBe(1);
  });

  it('a degraded zone goes first, and no other zone starts while it is degraded', () => {
    const r = run(zones('ingester', 4), {
      faults: { preUnavailable: ['c1/mimir/ingester-zone-b-2'] },
    });
    expect(r.releases.map((x) => x.zone)).toEqual(['zone-b', 'zone-a', 'zone-c']);
    expect(r.releases[0].pods).toContain('ingester-zone-b-2');
    expect(r.state.status).toBe('succeeded');
    expect(r.violations).toEqual([]);
  });

  it('stateless Deployments roll in parallel, 25% at a time, by their controller', () => {
    const r = run([
      { name: 'querier', kind: 'Deployment', component: 'querier', replicas: 8 },
      { name: 'distributor', kind: 'Deployment', component: 'distributor', replicas: 4 },
    ]);
    expect(r.state.status).toBe('succeeded');
    expect(r.releases.map((x) => [x.at, x.workload])).toEqual([
      [0, 'distributor'],
      [0, 'querier'],
    ]);
    expect(r.maxUnavailable['c1/mimir/querier']).toBe(2);
    expect(r.maxUnavailable['c1/mimir/distributor']).toBe(1);
    expect(r.deploymentsRolled.sort()).toEqual(['c1/mimir/distributor', 'c1/mimir/querier']);
  });

  it('an instance that never comes back blocks the rollout with the pod named; nothing else in its component goes', () => {
    const r = run(
      [sts('ingester', 'ingester', 3)],
      { faults: { neverReady: ['c1/mimir/ingester-0'] } },
      { instanceTimeoutSeconds: 120 },
    );
    expect(r.state.status).toBe('blocked');
    expect(r.state.reason).toContain('pod ingester-0 not back within 120s');
    expect(Object.keys(r.restarts)).toEqual(['c1/mimir/ingester-0']);
  });

  it('a canary target rolls alone first', () => {
    const t2 = { cluster: 'c2', namespace: 'mimir' };
    const r = simulate({
      seed: 3,
      spec: spec({ targets: [target, t2], canary: 'c2/mimir', maxParallelTargets: 2 }),
      targets: [target, t2].map((t) => ({
        target: t,
        workloads: [sts('ingester', 'ingester', 2)],
      })),
    });
    expect(r.state.status).toBe('succeeded');
    const firstC1 = r.releases.find((x) => x.target === 'c1/mimir')!.at;
    expect(r.state.targets['c2/mimir'].endedAt!).toBeLessThanOrEqual(firstC1);
  });
});
