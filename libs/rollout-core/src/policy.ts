/**
 * Mimir's rolling-update policy (seed: "Performing a rolling update to Grafana Mimir"), as data.
 *
 * | class         | default limit                         | derived from RF            |
 * |---------------|---------------------------------------|----------------------------|
 * | monolithic    | 1, gated on `/ready` 200              | -                          |
 * | stateless     | 25% of replicas (at least 1)          | at most replicas - 1       |
 * | ingester      | 1                                     | quorum: RF - (floor(RF/2)+1) |
 * | store-gateway | 2                                     | single copy: RF - 1        |
 * | alertmanager  | 2                                     | single copy: RF - 1        |
 * | stateful      | 1 (compactor and unknown StatefulSets) | -                          |
 * | zone-aware    | one zone at a time, the whole zone (capped by rollout-max-unavailable) | zones: same formulas |
 *
 * Worked examples (repeated in policy.spec.ts):
 * - ingester, RF 3, not zone-aware          -> limit 1
 * - ingester, RF 5                          -> limit 2
 * - store-gateway, 6 replicas, RF 3         -> limit 2 (pairs)
 * - alertmanager, 5 replicas                -> limit 2
 * - querier, 12 replicas                    -> limit 3 (25%)
 * - ingester zones a/b/c x 10, cap 50       -> 1 zone at a time, 10 per zone
 * - ingester override maxUnavailable 2, RF 3, no `unsafe` -> error; with `unsafe` -> 2, recorded
 */
import type { ComponentOverride, WorkloadObs } from './model';

export type ComponentClass =
  'monolithic' | 'stateless' | 'ingester' | 'store-gateway' | 'alertmanager' | 'stateful';

/** How a class tolerates unavailability, which decides how a limit is derived from RF. */
type Tolerance = 'quorum' | 'single-copy' | 'none';

interface ClassDefaults {
  tolerance: Tolerance;
  /** Default replication factor (Mimir's defaults: 3 for all three replicated components). */
  defaultRF?: number;
  probeReady: boolean;
}

const CLASS_DEFAULTS: Record<ComponentClass, ClassDefaults> = {
  monolithic: { tolerance: 'none', probeReady: true },
  stateless: { tolerance: 'none', probeReady: false },
  ingester: { tolerance: 'quorum', defaultRF: 3, probeReady: false },
  'store-gateway': { tolerance: 'single-copy', defaultRF: 3, probeReady: false },
  alertmanager: { tolerance: 'single-copy', defaultRF: 3, probeReady: false },
  stateful: { tolerance: 'none', probeReady: false },
};

/** Component names (the chart's `app.kubernetes.io/component` / rollout-group) by class. */
const NAMED_CLASSES: Record<string, ComponentClass> = {
  ingester: 'ingester',
  'store-gateway': 'store-gateway',
  alertmanager: 'alertmanager',
  compactor: 'stateful',
  // Monolithic Mimir runs every module in one process (`-target=all`).
  mimir: 'monolithic',
  monolithic: 'monolithic',
  all: 'monolithic',
};

/** Share of a stateless component restarted at once by default. */
export const STATELESS_DEFAULT_FRACTION = 0.25;

export function classify(
  component: string,
  workloads: Pick<WorkloadObs, 'kind'>[],
): ComponentClass {
  const named = NAMED_CLASSES[component];
  if (named) return named;
  // Unknown components: a Deployment carries no state; an unknown StatefulSet might, so be careful.
  return workloads.every((w) => w.kind === 'Deployment') ? 'stateless' : 'stateful';
}

/**
 * Unavailable replicas a replication scheme tolerates:
 * quorum (reads and writes need floor(RF/2)+1): RF - (floor(RF/2)+1); single copy serves: RF - 1.
 *
 * toleratedByRF('quorum', 3) === 1; toleratedByRF('quorum', 5) === 2; toleratedByRF('single-copy', 3) === 2
 */
export function toleratedByRF(tolerance: Exclude<Tolerance, 'none'>, rf: number): number {
  return tolerance === 'quorum' ? rf - (Math.floor(rf / 2) + 1) : rf - 1;
}

export interface ComponentPolicy {
  component: string;
  class: ComponentClass;
  zoneAware: boolean;
  /** Non-zone-aware: max unavailable instances. Zone-aware: max unavailable per zone. */
  limit: number;
  /** Zone-aware: zones disrupted at once. */
  zonesAtOnce: number;
  probeReady: boolean;
  replicationFactor?: number;
  /** Human-readable derivation, shown in plans. */
  basis: string;
  /** An override raised a limit above the safe value (recorded in the plan and audit). */
  unsafe: boolean;
}

export type PolicyResult = { ok: true; policy: ComponentPolicy } | { ok: false; error: string };

/**
 * The limit for one component, from its workloads (kinds, replicas, zones, RF and
 * `rollout-max-unavailable` annotations) and the request's override.
 */
export function resolvePolicy(
  component: string,
  workloads: WorkloadObs[],
  override: ComponentOverride = {},
): PolicyResult {
  const cls = classify(component, workloads);
  const defaults = CLASS_DEFAULTS[cls];
  const replicas = workloads.reduce((n, w) => n + w.replicas, 0);
  const zones = new Set(workloads.map((w) => w.zone).filter((z): z is string => !!z));
  const zoneAware = zones.size > 1;
  const rf = workloads.find((w) => w.replicationFactor)?.replicationFactor ?? defaults.defaultRF;
  const field = (name: string) => `overrides.${component}.${name}`;

  let limit: number;
  let safeMax: number;
  let zonesAtOnce = 1;
  let safeZones = 1;
  let basis: string;

  if (zoneAware) {
    // A zone holds at most one replica of each series/block/tenant: a whole zone may go at once.
    const zoneSize = Math.max(
      ...[...zones].map((z) =>
        workloads.filter((w) => w.zone === z).reduce((n, w) => n + w.replicas, 0),
      ),
    );
    const cap = Math.min(...workloads.map((w) => w.maxUnavailablePerZone ?? Infinity));
    limit = Math.max(1, Math.min(zoneSize, cap));
    safeMax = Math.max(1, zoneSize);
    if (defaults.tolerance !== 'none' && rf)
      safeZones = Math.max(1, toleratedByRF(defaults.tolerance, rf));
    basis = `zone-aware: one zone at a time, up to ${limit} per zone${Number.isFinite(cap) ? ` (rollout-max-unavailable ${cap})` : ''}`;
  } else if (cls === 'stateless') {
    limit = Math.max(1, Math.floor(replicas * STATELESS_DEFAULT_FRACTION));
    safeMax = Math.max(1, replicas - 1);
    basis = `stateless: ${Math.round(STATELESS_DEFAULT_FRACTION * 100)}% of ${replicas}`;
  } else if (defaults.tolerance !== 'none' && rf) {
    limit = Math.max(1, toleratedByRF(defaults.tolerance, rf));
    safeMax = limit;
    basis =
      defaults.tolerance === 'quorum'
        ? `quorum RF ${rf}: ${rf} - (floor(${rf}/2)+1) = ${limit}`
        : `single copy serves, RF ${rf}: ${rf} - 1 = ${limit}`;
  } else {
    limit = 1;
    safeMax = 1;
    basis = cls === 'monolithic' ? 'monolithic: one instance at a time' : `${cls}: one at a time`;
  }

  let unsafe = false;
  if (override.maxUnavailable !== undefined) {
    const v = override.maxUnavailable;
    if (!Number.isInteger(v) || v < 1)
      return { ok: false, error: `${field('maxUnavailable')}: must be an integer >= 1, got ${v}` };
    if (v > safeMax && !override.unsafe) {
      return {
        ok: false,
        error: `${field('maxUnavailable')}: ${v} exceeds the safe limit ${safeMax} (${basis}); set unsafe: true to force it`,
      };
    }
    unsafe ||= v > safeMax;
    basis = `override ${v}${v > safeMax ? ' (UNSAFE)' : ''}; default ${basis}`;
    limit = v;
  }
  if (override.maxUnavailableZones !== undefined) {
    const v = override.maxUnavailableZones;
    if (!zoneAware)
      return {
        ok: false,
        error: `${field('maxUnavailableZones')}: component ${component} is not zone-aware`,
      };
    if (!Number.isInteger(v) || v < 1)
      return {
        ok: false,
        error: `${field('maxUnavailableZones')}: must be an integer >= 1, got ${v}`,
      };
    if (v > safeZones && !override.unsafe) {
      return {
        ok: false,
        error: `${field('maxUnavailableZones')}: ${v} exceeds the safe ${safeZones} zone(s) at once; set unsafe: true to force it`,
      };
    }
    unsafe ||= v > safeZones;
    zonesAtOnce = v;
    basis += `; ${v} zones at once${v > safeZones ? ' (UNSAFE)' : ''}`;
  }

  return {
    ok: true,
    policy: {
      component,
      class: cls,
      zoneAware,
      limit,
      zonesAtOnce,
      probeReady: override.probeReady ?? defaults.probeReady,
      replicationFactor: rf,
      basis,
      unsafe,
    },
  };
}
