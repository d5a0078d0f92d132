/**
 * What GET /v1/rollouts/{id} shows: status and blocking reason, the plan, and progress per
 * target, component and zone, with a remaining-time estimate from the plan.
 */
import type { ComponentState, ObservedFleet, PodObs, RolloutState } from '@ringmaster/rollout-core';
import { summarizeProgress } from '@ringmaster/contracts';
import type { RolloutRecord } from '@ringmaster/persistence';

interface PlanLike {
  etaSeconds?: number;
  targets?: {
    target: string;
    components: {
      component: string;
      policy: { limit: number; zonesAtOnce: number; zoneAware: boolean; basis: string };
    }[];
  }[];
}

export function rolloutSummary(r: RolloutRecord) {
  return {
    id: r.id,
    status: r.status,
    reason: r.reason ?? undefined,
    targets: r.targets.map((t) => `${t.cluster}/${t.namespace}`),
    change: r.spec.change,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    requestedBy: r.requestedBy ?? undefined,
    progress: summarizeProgress(r.state),
  };
}

/**
 * Per zone of a zone-aware StatefulSet component, from what is observed now: pods at the
 * rollout's target revision and Ready, of all pods in the zone.
 *
 * zoneProgress(component with zone-a 2/2 at r2 and zone-b 0/2) ->
 *   [{ zone: 'zone-a', updated: 2, total: 2 }, { zone: 'zone-b', updated: 0, total: 2 }]
 */
export function zoneProgress(
  c: ComponentState,
  pods: Record<string, PodObs> | undefined,
): { zone: string; updated: number; total: number }[] | undefined {
  if (!pods) return undefined;
  const byZone = new Map<string, { zone: string; updated: number; total: number }>();
  for (const p of Object.values(pods)) {
    if (!p.zone || !(p.workload in c.workloads)) continue;
    const z = byZone.get(p.zone) ?? { zone: p.zone, updated: 0, total: 0 };
    z.total++;
    if (
      p.ready &&
      p.revision === c.workloads[p.workload].targetRevision &&
      c.inFlight[p.name]?.uid !== p.uid
    )
      z.updated++;
    byZone.set(p.zone, z);
  }
  return byZone.size > 1
    ? [...byZone.values()].sort((a, b) => a.zone.localeCompare(b.zone))
    : undefined;
}

export function rolloutView(
  r: RolloutRecord,
  plan: unknown,
  now: number,
  observed: ObservedFleet = {},
) {
  const s: RolloutState = r.state;
  const p = (plan ?? {}) as PlanLike;
  const elapsed = s.startedAt !== undefined ? ((s.endedAt ?? now) - s.startedAt) / 1000 : 0;
  const limits = new Map(
    p.targets?.flatMap((t) =>
      t.components.map((c) => [`${t.target}|${c.component}`, c.policy] as const),
    ) ?? [],
  );
  return {
    ...rolloutSummary(r),
    spec: r.spec,
    startedAt: s.startedAt !== undefined ? new Date(s.startedAt).toISOString() : undefined,
    endedAt: s.endedAt !== undefined ? new Date(s.endedAt).toISOString() : undefined,
    elapsedSeconds: Math.round(elapsed),
    etaSeconds: p.etaSeconds,
    remainingSeconds:
      p.etaSeconds !== undefined && !s.endedAt
        ? Math.max(0, Math.round(p.etaSeconds - elapsed))
        : undefined,
    plan,
    targetProgress: s.order.map((key) => {
      const t = s.targets[key];
      return {
        target: key,
        status: t.status,
        reason: t.reason,
        components: Object.entries(t.components)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, c]) => {
            const limit = limits.get(`${key}|${name}`);
            const inFlight = Object.entries(c.inFlight).sort(([a], [b]) => a.localeCompare(b));
            return {
              component: name,
              status: c.status,
              reason: c.reason,
              restarted: c.restarted,
              total: c.total,
              limit: limit?.limit,
              zoneAware: limit?.zoneAware,
              basis: limit?.basis,
              activeZone: c.activeZone || undefined,
              zones: zoneProgress(c, observed[key]?.pods[name]),
              inFlight: inFlight.map(([pod, f]) => ({
                pod,
                zone: f.zone,
                since: new Date(f.issuedAt).toISOString(),
                refused: f.refused,
              })),
              maxUnavailableSeen: c.maxUnavailableSeen,
              waiting: c.waiting,
            };
          }),
      };
    }),
  };
}
