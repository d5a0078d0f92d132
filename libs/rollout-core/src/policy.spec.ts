import { resolvePolicy, toleratedByRF } from './policy';
import type { WorkloadObs } from './model';
import { workloadObs } from './testing/workload-obs.fixture';

const wl = (component: string, replicas: number, extra: Partial<WorkloadObs> = {}): WorkloadObs =>
  workloadObs(
    extra.zone ? `${component}-${extra.zone}` : component,
    component,
    'StatefulSet',
    replicas,
    extra,
  );

const zoned = (component: string, n: number, extra: Partial<WorkloadObs> = {}) =>
  ['zone-a', 'zone-b', 'zone-c'].map((zone) => wl(component, n, { zone, ...extra }));

describe('toleratedByRF (the doc examples)', () => {
  it.each([
    ['quorum', 3, 1],
    ['quorum', 5, 2],
    ['single-copy', 3, 2],
  ] as const)('%s RF %i tolerates %i', (t, rf, n) => expect(toleratedByRF(t, rf)).toBe(n));
});

describe('resolvePolicy: the worked examples of policy.ts', () => {
  it.each([
    ['ingester, RF 3', 'ingester', [wl('ingester', 3)], 1],
    ['ingester, RF 5', 'ingester', [wl('ingester', 5, { replicationFactor: 5 })], 2],
    ['6 store-gateways -> pairs', 'store-gateway', [wl('store-gateway', 6)], 2],
    ['5 alertmanagers', 'alertmanager', [wl('alertmanager', 5)], 2],
    [
      'querier x12 -> 25%',
      'querier',
      [wl('querier', 12, { kind: 'Deployment', updateStrategy: 'RollingUpdate' })],
      3,
    ],
    [
      'querier x2 -> at least 1',
      'querier',
      [wl('querier', 2, { kind: 'Deployment', updateStrategy: 'RollingUpdate' })],
      1,
    ],
    ['compactor', 'compactor', [wl('compactor', 3)], 1],
    ['monolithic', 'mimir', [wl('mimir', 3)], 1],
  ])('%s', (_name, component, workloads, limit) => {
    const r = resolvePolicy(component, workloads);
    expect(r.ok && r.policy.limit).toBe(limit);
  });

  it('monolithic is gated on /ready', () => {
    const r = resolvePolicy('mimir', [wl('mimir', 3)]);
    expect(r.ok && r.policy.probeReady).toBe(true);
  });

  it('zone-aware ingesters: one whole zone at a time, capped by rollout-max-unavailable', () => {
    const whole = resolvePolicy('ingester', zoned('ingester', 10));
    expect(
      whole.ok && [whole.policy.zoneAware, whole.policy.zonesAtOnce, whole.policy.limit],
    ).toEqual([true, 1, 10]);
    const capped = resolvePolicy('ingester', zoned('ingester', 100, { maxUnavailablePerZone: 50 }));
    expect(capped.ok && capped.policy.limit).toBe(50);
  });

  it('an override may lower a limit', () => {
    const r = resolvePolicy('store-gateway', [wl('store-gateway', 6)], { maxUnavailable: 1 });
    expect(r.ok && [r.policy.limit, r.policy.unsafe]).toEqual([1, false]);
  });

  it('raising above the derived limit needs unsafe, and is recorded', () => {
    const refused = resolvePolicy('ingester', [wl('ingester', 3)], { maxUnavailable: 2 });
    expect(refused).toEqual({
      ok: false,
      error:
        'overrides.ingester.maxUnavailable: 2 exceeds the safe limit 1 (quorum RF 3: 3 - (floor(3/2)+1) = 1); set unsafe: true to force it',
    });
    const forced = resolvePolicy('ingester', [wl('ingester', 3)], {
      maxUnavailable: 2,
      unsafe: true,
    });
    expect(forced.ok && [forced.policy.limit, forced.policy.unsafe, forced.policy.basis]).toEqual([
      2,
      true,
      expect.stringContaining('UNSAFE'),
    ]);
  });

  it('two zones at once needs unsafe for ingesters (RF 3) but not for store-gateways (single copy)', () => {
    expect(
      resolvePolicy('ingester', zoned('ingester', 3), { maxUnavailableZones: 2 }),
    ).toMatchObject({ ok: false });
    const sg = resolvePolicy('store-gateway', zoned('store-gateway', 3), {
      maxUnavailableZones: 2,
    });
    expect(sg.ok && [sg.policy.zonesAtOnce, sg.policy.unsafe]).toEqual([2, false]);
  });

  it.each([
    [{ maxUnavailable: 0 }, 'overrides.ingester.maxUnavailable: must be an integer >= 1, got 0'],
    [
      { maxUnavailable: 1.5 },
      'overrides.ingester.maxUnavailable: must be an integer >= 1, got 1.5',
    ],
    [
      { maxUnavailableZones: 1 },
      'overrides.ingester.maxUnavailableZones: component ingester is not zone-aware',
    ],
  ])('rejects %j', (override, error) => {
    expect(resolvePolicy('ingester', [wl('ingester', 3)], override)).toEqual({ ok: false, error });
  });
});
