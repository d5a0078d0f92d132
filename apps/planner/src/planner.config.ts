/**
 * Planner configuration, read once at startup from the environment. A bad value fails the
 * process with the variable named. Kafka and Postgres settings are their libraries' own
 * (KAFKA_*, DATABASE_*); the planner adds:
 *
 *   PLANNER_ID           this instance's identity in the leader lease (default host-pid)
 *   PLANNER_BATCH_MS     observations within this window are decided together (default 250)
 *   PLANNER_LEASE_TTL_MS leader lease lifetime; renewed every third of it (default 10000)
 *   PLANNER_GROUP_ID     consumer group of the leader's inputs (default ringmaster-planner)
 */
import { hostname } from 'node:os';
import { DEFAULT_BATCH_MS } from '@ringmaster/rollout-core';

export interface PlannerConfig {
  plannerId: string;
  batchMs: number;
  leaseTtlMs: number;
  groupId: string;
}

export class PlannerConfigError extends Error {}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new PlannerConfigError(`${name}: must be a positive integer, got "${raw}"`);
  return n;
}

export function plannerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): PlannerConfig {
  return {
    plannerId: env.PLANNER_ID?.trim() || `${hostname()}-${process.pid}`,
    batchMs: positiveInt(env, 'PLANNER_BATCH_MS', DEFAULT_BATCH_MS),
    leaseTtlMs: positiveInt(env, 'PLANNER_LEASE_TTL_MS', 10_000),
    groupId: env.PLANNER_GROUP_ID?.trim() || 'ringmaster-planner',
  };
}
