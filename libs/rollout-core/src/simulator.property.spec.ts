/**
 * Properties of decide() over random Mimir topologies and faults, in the simulator. The
 * simulator's observer counts unavailability in the simulated world (not in the rollout
 * state) and judges it against the seed's limits. A failing case is shrunk by fast-check and
 * reported as a short readable scenario (see `describeScenario`).
 */
import fc from 'fast-check';
import {
  simulate,
  type SimConfig,
  type SimFaults,
  type SimResult,
  type SimWorkload,
} from './simulator';
import type { RolloutSpec } from './model';

const target = { cluster: 'c1', namespace: 'mimir' };
const ZONES = ['zone-a', 'zone-b', 'zone-c', 'zone-d', 'zone-e'];

interface Topology {
  mode: 'monolithic' | 'microservices';
  zones: number;
  rf: 3 | 5;
  ingestersPerZone: number;
  storeGatewaysPerZone: number;
  zoneCap?: number;
  alertmanagers: number;
  compactors: number;
  queriers: number;
  distributors: number;
  monolithic: number;
}

const topologyArb: fc.Arbitrary<Topology> = fc.record({
  mode: fc.constantFrom('monolithic' as const, 'microservices' as const),
  zones: fc.integer({ min: 1, max: 5 }),
  rf: fc.constantFrom(3 as const, 5 as const),
  // 1-300 pods per component in all.
  ingestersPerZone: fc.integer({ min: 1, max: 60 }),
  storeGatewaysPerZone: fc.integer({ min: 1, max: 60 }),
  zoneCap: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
  alertmanagers: fc.integer({ min: 1, max: 12 }),
  compactors: fc.integer({ min: 1, max: 3 }),
  queriers: fc.integer({ min: 1, max: 300 }),
  distributors: fc.integer({ min: 1, max: 40 }),
  monolithic: fc.integer({ min: 1, max: 12 }),
});

function workloadsOf(t: Topology): SimWorkload[] {
  if (t.mode === 'monolithic')
    return [{ name: 'mimir', kind: 'StatefulSet', component: 'mimir', replicas: t.monolithic }];
  const zoned = (component: string, perZone: number): SimWorkload[] =>
    t.zones === 1
      ? [
          {
            name: component,
            kind: 'StatefulSet',
            component,
            replicas: perZone,
            replicationFactor: t.rf,
          },
        ]
      : ZONES.slice(0, t.zones).map((zone) => ({
          name: `${component}-${zone}`,
          kind: 'StatefulSet' as const,
          component,
          zone,
          replicas: perZone,
          replicationFactor: t.rf,
          maxUnavailablePerZone: t.zoneCap,
        }));
  return [
    ...zoned('ingester', t.ingestersPerZone),
    ...zoned('store-gateway', t.storeGatewaysPerZone),
    {
      name: 'alertmanager',
      kind: 'StatefulSet',
      component: 'alertmanager',
      replicas: t.alertmanagers,
    },
    { name: 'compactor', kind: 'StatefulSet', component: 'compactor', replicas: t.compactors },
    { name: 'querier', kind: 'Deployment', component: 'querier', replicas: t.queriers },
    { name: 'distributor', kind: 'Deployment', component: 'distributor', replicas: t.distributors },
  ];
}

const statefulPods = (ws: SimWorkload[]) =>
  ws
    .filter((w) => w.kind === 'StatefulSet')
    .flatMap((w) => Array.from({ length: w.replicas }, (_, i) => `c1/mimir/${w.name}-${i}`));

const spec = (extra: Partial<RolloutSpec> = {}): RolloutSpec => ({
  targets: [target],
  change: { kind: 'image', image: 'grafana/mimir:2.15.0' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 600,
  restartMethod: 'evict',
  maxParallelTargets: 1,
  ...extra,
});

function describeScenario(t: Topology, seed: number, faults: SimFaults, r: SimResult): string {
  const ws = workloadsOf(t)
    .map((w) => `${w.name}${w.zone ? '' : ''} x${w.replicas}`)
    .join(', ');
  const doubled = Object.entries(r.restarts).filter(([, n]) => n > 1);
  return [
    `seed ${seed}, ${t.mode}, ${t.zones} zone(s), RF ${t.rf}${t.zoneCap ? `, rollout-max-unavailable ${t.zoneCap}` : ''}`,
    `workloads: ${ws}`,
    `faults: ${JSON.stringify(faults)}`,
    `ended ${r.ended} as ${r.state.status}${r.state.reason ? ` (${r.state.reason})` : ''}`,
    `violations: ${r.violations.map((v) => `t=${Math.round(v.at)}ms ${v.component}: ${v.what}`).join('; ') || 'none'}`,
    `restarted more than once: ${doubled.map(([p, n]) => `${p} x${n}`).join(', ') || 'none'}`,
  ].join('\n  ');
}

function check(ok: boolean, t: Topology, seed: number, faults: SimFaults, r: SimResult): void {
  if (!ok) throw new Error(`\n  ${describeScenario(t, seed, faults, r)}`);
}

const RUNS = Number(process.env.RINGMASTER_PROPERTY_RUNS ?? 40);
/** Random by default (every run explores new cases); CI pins it so a landing is reproducible. */
const SEED = process.env.RINGMASTER_PROPERTY_SEED
  ? Number(process.env.RINGMASTER_PROPERTY_SEED)
  : undefined;
const settings = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

describe('rollout properties (fast-check, simulated)', () => {
  it('fault-free: never over a limit, never two zones, every pod replaced exactly once, and it succeeds', () => {
    fc.assert(
      fc.property(topologyArb, fc.integer({ min: 1, max: 2 ** 31 - 1 }), (t, seed) => {
        const workloads = workloadsOf(t);
        const r = simulate({ seed, spec: spec(), targets: [{ target, workloads }] });
        const exactlyOnce = statefulPods(workloads).every((p) => r.restarts[p] === 1);
        const deploymentsDone = r.deploymentsRolled.length === r.deployments.length;
        check(
          r.ended &&
            r.state.status === 'succeeded' &&
            r.violations.length === 0 &&
            exactlyOnce &&
            deploymentsDone,
          t,
          seed,
          {},
          r,
        );
      }),
      settings,
    );
  });

  const faultsArb = (t: Topology): fc.Arbitrary<SimFaults> => {
    const pods = statefulPods(workloadsOf(t));
    const rate = (max: number) => fc.double({ min: 0, max, noNaN: true });
    // Lost observations and crash loops are drawn apart: a pod that crashes after it is back,
    // while the event saying so is lost, looks Ready to any controller until the next re-list,
    // so no limit can be promised for that combination (found by this property; the README says
    // so under Tests). Each is exercised on its own.
    const lossOrCrash = fc.oneof(
      fc.record({ drop: rate(0.2), crashLoop: fc.constant(0) }),
      fc.record({ drop: fc.constant(0), crashLoop: rate(0.2) }),
    );
    return fc
      .record({
        duplicate: rate(0.3),
        reorder: rate(0.3),
        duplicateCommand: rate(0.3),
        pdbRefusal: rate(0.3),
        lossOrCrash,
        neverReady: fc.subarray(pods, { maxLength: Math.min(2, pods.length) }),
        preUnavailable: fc.subarray(pods, { maxLength: Math.min(2, pods.length) }),
        controls: fc.oneof(
          fc.constant([] as SimFaults['controls']),
          fc
            .tuple(fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: 1, max: 120_000 }))
            .map(([at, d]) => [
              { at, event: { kind: 'pause' as const } },
              { at: at + d, event: { kind: 'resume' as const } },
            ]),
          fc
            .integer({ min: 0, max: 600_000 })
            .map((at) => [{ at, event: { kind: 'abort' as const } }]),
        ),
      })
      .map(({ lossOrCrash, ...rest }) => ({ ...rest, ...lossOrCrash }));
  };

  it('under faults: never over a limit, never a pod restarted twice, and every run ends', () => {
    fc.assert(
      fc.property(
        topologyArb.chain((t) =>
          fc.tuple(fc.constant(t), faultsArb(t), fc.integer({ min: 1, max: 2 ** 31 - 1 })),
        ),
        ([t, faults, seed]) => {
          const workloads = workloadsOf(t);
          const cfg: SimConfig = {
            seed,
            // A soak longer than a crash loop's first crash lets the soak catch it.
            spec: spec({ soakSeconds: 15, instanceTimeoutSeconds: 300 }),
            targets: [{ target, workloads }],
            relistEveryMs: 30_000,
            faults,
          };
          const r = simulate(cfg);
          const once = Object.values(r.restarts).every((n) => n <= 1);
          const ended = r.ended && ['succeeded', 'blocked', 'aborted'].includes(r.state.status);
          check(ended && once && r.violations.length === 0, t, seed, faults, r);
          // Without an instance that never returns or an abort, it must succeed.
          if (
            !faults.neverReady?.length &&
            !faults.controls?.some((c) => c.event.kind === 'abort')
          ) {
            check(r.state.status === 'succeeded', t, seed, faults, r);
          }
        },
      ),
      settings,
    );
  });
});
