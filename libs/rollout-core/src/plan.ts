/**
 * plan(): the dry run users see before they commit. It resolves each component's limit and
 * simulates the rollout in virtual time with estimated restart durations and no faults, so
 * the waves and the ETA come from the very logic that will run (decide()).
 *
 * Worked example (plan.spec.ts repeats it): 3 zones x 10 ingesters, restart 30 s each
 *   -> ingester: 3 waves (zone-a 10 pods, zone-b 10, zone-c 10), ETA ~ 90 s.
 */
import { type ComponentPolicy, resolvePolicy } from './policy';
import type { RolloutSpec, TargetKey, WorkloadObs } from './model';
import { targetKey } from './model';
import { simulate, type Release, type SimWorkload } from './simulator';

/** What discovery found in each target: its workloads. */
export type PlanTopology = Record<TargetKey, WorkloadObs[]>;

export interface PlanEstimates {
  /** Delete -> Ready again, per component (default `default`, 30 s). */
  restartSeconds?: Record<string, number> & { default?: number };
}

export interface PlanWave {
  zone?: string;
  /** Pods restarted together (StatefulSets), or the Deployment rolled by its controller. */
  pods: string[];
  workload?: string;
  startSeconds: number;
}

export interface PlanComponent {
  component: string;
  policy: ComponentPolicy;
  instances: number;
  waves: PlanWave[];
  etaSeconds: number;
}

export interface PlanTarget {
  target: TargetKey;
  components: PlanComponent[];
  etaSeconds: number;
}

export type PlanResult =
  | { ok: true; targets: PlanTarget[]; etaSeconds: number; unsafe: string[] }
  | { ok: false; errors: string[] };

const DEFAULT_RESTART_SECONDS = 30;

export function plan(
  topology: PlanTopology,
  spec: RolloutSpec,
  estimates: PlanEstimates = {},
): PlanResult {
  const errors: string[] = [];
  const unsafe: string[] = [];
  const policies = new Map<string, ComponentPolicy>();
  const wanted = spec.components?.length ? new Set(spec.components) : undefined;

  for (const t of spec.targets) {
    const key = targetKey(t);
    const workloads = topology[key];
    if (!workloads) {
      errors.push(
        `targets: ${key} is unknown (no such cluster or namespace, or not discovered yet)`,
      );
      continue;
    }
    const byComponent = groupBy(workloads, (w) => w.component);
    for (const c of wanted ?? [])
      if (!byComponent.has(c))
        errors.push(
          `components: ${c} not found in ${key} (has ${[...byComponent.keys()].sort().join(', ')})`,
        );
    for (const [component, ws] of byComponent) {
      if (wanted && !wanted.has(component)) continue;
      const res = resolvePolicy(component, ws, spec.overrides?.[component]);
      if (!res.ok) {
        errors.push(res.error);
        continue;
      }
      policies.set(`${key}|${component}`, res.policy);
      if (res.policy.unsafe) unsafe.push(`${key} ${component}: ${res.policy.basis}`);
      for (const w of ws) {
        if (w.kind === 'StatefulSet' && w.updateStrategy === 'RollingUpdate' && !spec.takeOver) {
          errors.push(
            `StatefulSet ${key}/${w.name} uses updateStrategy RollingUpdate and would restart pods at its own pace; set takeOver: true`,
          );
        }
      }
    }
  }
  for (const c of Object.keys(spec.overrides ?? {})) {
    if (
      ![...policies.keys()].some((k) => k.endsWith(`|${c}`)) &&
      !errors.some((e) => e.includes(c))
    ) {
      errors.push(`overrides.${c}: no such component in the targets`);
    }
  }
  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };

  const restart = (component: string) =>
    (estimates.restartSeconds?.[component] ??
      estimates.restartSeconds?.default ??
      DEFAULT_RESTART_SECONDS) * 1000;
  // One simulated restart = terminate + recreate + Ready; the estimate is split across them.
  const sim = simulate({
    seed: 1,
    rolloutId: 'plan',
    spec: { ...spec, instanceTimeoutSeconds: Math.max(spec.instanceTimeoutSeconds, 24 * 3600) },
    targets: spec.targets.map((t) => ({ target: t, workloads: topology[targetKey(t)].map(toSim) })),
    terminate: { mean: 0, jitter: 0 },
    create: { mean: 0, jitter: 0 },
    ready: { mean: restart('default'), jitter: 0 },
    probe: { mean: 0, jitter: 0 },
    observe: { mean: 0, jitter: 0 },
    command: { mean: 0, jitter: 0 },
    readyByComponent: Object.fromEntries(
      [...policies.values()].map((p) => [p.component, restart(p.component)]),
    ),
  });

  const targets: PlanTarget[] = spec.targets.map((t) => {
    const key = targetKey(t);
    const components: PlanComponent[] = [];
    for (const [pk, policy] of policies) {
      if (!pk.startsWith(`${key}|`)) continue;
      const releases = groupWaves(
        sim.releases.filter((r) => r.target === key && r.component === policy.component),
      );
      const end = sim.componentEnds[`${key}|${policy.component}`] ?? sim.makespanMs;
      components.push({
        component: policy.component,
        policy,
        instances: topology[key]
          .filter((w) => w.component === policy.component)
          .reduce((n, w) => n + w.replicas, 0),
        waves: releases.map((r) => ({
          zone: r.zone,
          pods: r.pods,
          workload: r.workload,
          startSeconds: round(r.at / 1000),
        })),
        etaSeconds: round(end / 1000),
      });
    }
    components.sort((a, b) => a.component.localeCompare(b.component));
    return {
      target: key,
      components,
      etaSeconds: round((sim.state.targets[key]?.endedAt ?? sim.makespanMs) / 1000),
    };
  });
  return { ok: true, targets, etaSeconds: round(sim.makespanMs / 1000), unsafe };
}

/** Releases of one zone less than a second apart read as one wave (the window slides by the instant). */
function groupWaves(releases: Release[]): Release[] {
  const out: Release[] = [];
  for (const r of releases) {
    const last = out[out.length - 1];
    if (last && !r.workload && !last.workload && last.zone === r.zone && r.at - last.at < 1000)
      last.pods.push(...r.pods);
    else out.push({ ...r, pods: [...r.pods] });
  }
  return out;
}

function toSim(w: WorkloadObs): SimWorkload {
  return {
    name: w.name,
    kind: w.kind,
    component: w.component,
    zone: w.zone,
    replicas: w.replicas,
    updateStrategy:
      w.updateStrategy === 'RollingUpdate' && w.kind === 'StatefulSet'
        ? 'OnDelete'
        : w.updateStrategy,
    replicationFactor: w.replicationFactor,
    maxUnavailablePerZone: w.maxUnavailablePerZone,
  };
}

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
