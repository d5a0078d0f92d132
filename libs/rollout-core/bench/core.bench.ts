/**
 * npm run bench:core: simulated rollouts of large Mimir fleets, in virtual time.
 *
 * For each scenario, one line:
 *   scenario=<name> pods=<n> makespan_ratio=<simulated makespan / critical-path lower bound>
 *   decisions_per_s=<decide() calls per CPU second> violations=<n>
 * and a last line: makespan_ratio_max=<x> violations_total=<n> (plus decide CPU for the biggest).
 *
 * The lower bound is what the limits themselves allow: per component ceil(instances / limit)
 * restarts one after another (zone-aware: one zone after another, each capped per zone), all
 * components in parallel, targets in rounds of maxParallelTargets. Restart durations are fixed
 * here (no jitter) so the bound is exact; watch/command latencies and the planner's batching
 * window are what the ratio measures.
 */
import {
  decide,
  simulate,
  type Decision,
  type DecideInput,
  type RolloutSpec,
  type RolloutState,
  type SimTarget,
  type SimWorkload,
} from '../src';

const RESTART = { terminate: 2_000, create: 1_000, ready: 27_000 };
const RESTART_MS = RESTART.terminate + RESTART.create + RESTART.ready;
const PROBE_MS = 3_000;
const ZONES = ['zone-a', 'zone-b', 'zone-c'];

const sts = (
  name: string,
  component: string,
  replicas: number,
  zone?: string,
  extra: Partial<SimWorkload> = {},
): SimWorkload => ({
  name,
  kind: 'StatefulSet',
  component,
  replicas,
  zone,
  ...extra,
});
const dep = (name: string, replicas: number): SimWorkload => ({
  name,
  kind: 'Deployment',
  component: name,
  replicas,
});

/** 1,500 pods, zone-aware ingesters and store-gateways (chart cap 50 per zone). */
function zoneAwareFleet(): SimWorkload[] {
  return [
    ...ZONES.map((z) => sts(`ingester-${z}`, 'ingester', 150, z, { maxUnavailablePerZone: 50 })),
    ...ZONES.map((z) =>
      sts(`store-gateway-${z}`, 'store-gateway', 100, z, { maxUnavailablePerZone: 50 }),
    ),
    sts('alertmanager', 'alertmanager', 30),
    sts('compactor', 'compactor', 6),
    dep('distributor', 300),
    dep('querier', 300),
    dep('query-frontend', 60),
    dep('query-scheduler', 6),
    dep('ruler', 30),
    dep('gateway', 18),
  ];
}

/** 1,500 pods without zones: ingesters strictly one at a time. */
function flatFleet(): SimWorkload[] {
  return [
    sts('ingester', 'ingester', 60),
    sts('store-gateway', 'store-gateway', 40),
    sts('alertmanager', 'alertmanager', 10),
    sts('compactor', 'compactor', 4),
    dep('distributor', 480),
    dep('querier', 600),
    dep('query-frontend', 200),
    dep('ruler', 106),
  ];
}

/** Lower bound for one target: the slowest component, if it had no overhead at all. */
function lowerBound(workloads: SimWorkload[], probe: boolean): number {
  const byComponent = new Map<string, SimWorkload[]>();
  for (const w of workloads)
    byComponent.set(w.component, [...(byComponent.get(w.component) ?? []), w]);
  let worst = 0;
  for (const [c, ws] of byComponent) {
    const n = ws.reduce((s, w) => s + w.replicas, 0);
    const zones = new Set(ws.map((w) => w.zone).filter(Boolean));
    const restart = RESTART_MS + (probe ? PROBE_MS : 0);
    let rounds: number;
    if (zones.size > 1) {
      const cap = Math.min(...ws.map((w) => w.maxUnavailablePerZone ?? Infinity));
      rounds = ws.reduce((s, w) => s + Math.ceil(w.replicas / Math.min(cap, w.replicas)), 0);
    } else {
      const limit =
        c === 'ingester'
          ? 1
          : c === 'store-gateway' || c === 'alertmanager'
            ? 2
            : ws[0].kind === 'Deployment'
              ? Math.max(1, Math.floor(n / 4))
              : 1;
      rounds = Math.ceil(n / limit);
    }
    worst = Math.max(worst, rounds * restart);
  }
  return worst;
}

interface Scenario {
  name: string;
  targets: SimTarget[];
  maxParallelTargets: number;
  probe: boolean;
}

const spec = (s: Scenario): RolloutSpec => ({
  targets: s.targets.map((t) => t.target),
  change: { kind: 'image', image: 'grafana/mimir:2.15.0' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 900,
  restartMethod: 'evict',
  maxParallelTargets: s.maxParallelTargets,
});

const one = (workloads: SimWorkload[]): SimTarget[] => [
  { target: { cluster: 'prod-1', namespace: 'mimir' }, workloads },
];
const many = (n: number, workloads: () => SimWorkload[]): SimTarget[] =>
  Array.from({ length: n }, (_, i) => ({
    target: { cluster: `prod-${i + 1}`, namespace: 'mimir' },
    workloads: workloads(),
  }));

const scenarios: Scenario[] = [
  {
    name: 'zone-aware-microservices',
    targets: one(zoneAwareFleet()),
    maxParallelTargets: 1,
    probe: false,
  },
  { name: 'flat-microservices', targets: one(flatFleet()), maxParallelTargets: 1, probe: false },
  {
    name: 'monolithic-fleet',
    targets: many(30, () => [sts('mimir', 'mimir', 3)]),
    maxParallelTargets: 10,
    probe: true,
  },
  { name: 'fleet-10x1500', targets: many(10, zoneAwareFleet), maxParallelTargets: 5, probe: false },
];

let ratioMax = 0;
let violationsTotal = 0;
for (const s of scenarios) {
  let cpuMicros = 0;
  let calls = 0;
  const timed = (state: RolloutState, input: DecideInput, now: number): Decision => {
    const t0 = process.cpuUsage();
    const d = decide(state, input, now);
    const t = process.cpuUsage(t0);
    cpuMicros += t.user + t.system;
    calls++;
    return d;
  };
  const r = simulate({
    seed: 42,
    spec: spec(s),
    targets: s.targets,
    terminate: { mean: RESTART.terminate, jitter: 0 },
    create: { mean: RESTART.create, jitter: 0 },
    ready: { mean: RESTART.ready, jitter: 0 },
    probe: { mean: s.probe ? PROBE_MS : 0, jitter: 0 },
    decide: timed,
  });
  const pods = s.targets.reduce((n, t) => n + t.workloads.reduce((m, w) => m + w.replicas, 0), 0);
  const rounds = Math.ceil(s.targets.length / s.maxParallelTargets);
  const bound = rounds * Math.max(...s.targets.map((t) => lowerBound(t.workloads, s.probe)));
  const ratio = r.makespanMs / bound;
  if (r.state.status !== 'succeeded')
    throw new Error(`${s.name}: ended ${r.state.status}: ${r.state.reason}`);
  ratioMax = Math.max(ratioMax, ratio);
  violationsTotal += r.violations.length;
  console.log(
    `scenario=${s.name} pods=${pods} makespan_ratio=${ratio.toFixed(3)} decisions_per_s=${Math.round(calls / (cpuMicros / 1e6))} violations=${r.violations.length}` +
      ` decide_cpu_ms=${(cpuMicros / 1000).toFixed(0)} decisions=${calls} makespan_s=${(r.makespanMs / 1000).toFixed(0)} bound_s=${(bound / 1000).toFixed(0)}`,
  );
}
console.log(`makespan_ratio_max=${ratioMax.toFixed(3)} violations_total=${violationsTotal}`);
