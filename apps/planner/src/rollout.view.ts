/**
 * What GET /v1/rollouts/{id} shows: status and blocking reason, the plan, and progress per
 * target, component and zone, with a remaining-time estimate from the plan.
 */
import type { RolloutState } from '@ringmaster/rollout-core';
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

export function rolloutView(r: RolloutRecord, plan: unknown, now: number) {
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
