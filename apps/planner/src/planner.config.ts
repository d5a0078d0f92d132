/**
 * Planner configuration, read once at startup from the environment. A bad value fails the
 * process with the variable named. Kafka and Postgres settings are their libraries' own
 * (KAFKA_*, DATABASE_*); the planner adds:
 *
 *   PLANNER_ID           this instance's identity in the leader lease (default host-pid)
 *   PLANNER_BATCH_MS     observations within this window are decided together (default 250)
 *   PLANNER_LEASE_TTL_MS leader lease lifetime; renewed every third of it (default 10000)
 *   PLANNER_GROUP_ID     consumer group of the leader's inputs (default ringmaster-planner)
 *   PLANNER_RATE_LIMIT_RPS / PLANNER_RATE_LIMIT_BURST  POSTs per client (default 20/s, burst 40; 0 = off)
 *   PLANNER_TOKENS_FILE  required: the API tokens (hashes and scopes) callers and request
 *                        producers authenticate with; `npm run token -- add ...` writes it
 */
import { hostname } from 'node:os';
import { DEFAULT_BATCH_MS } from '@ringmaster/rollout-core';

export interface PlannerConfig {
  plannerId: string;
  batchMs: number;
  leaseTtlMs: number;
  groupId: string;
  rateLimitRps: number;
  rateLimitBurst: number;
  tokensFile: string;
}

export class PlannerConfigError extends Error {}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new PlannerConfigError(`${name}: must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function required(env: NodeJS.ProcessEnv, name: string, hint: string): string {
  const v = env[name]?.trim();
  if (!v) throw new PlannerConfigError(`${name}: required (${hint})`);
  return v;
}

export function plannerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): PlannerConfig {
  return {
    plannerId: env.PLANNER_ID?.trim() || `${hostname()}-${process.pid}`,
    batchMs: positiveInt(env, 'PLANNER_BATCH_MS', DEFAULT_BATCH_MS),
    leaseTtlMs: positiveInt(env, 'PLANNER_LEASE_TTL_MS', 10_000),
    groupId: env.PLANNER_GROUP_ID?.trim() || 'ringmaster-planner',
    rateLimitRps: positiveInt(env, 'PLANNER_RATE_LIMIT_RPS', 20, 0),
    rateLimitBurst: positiveInt(env, 'PLANNER_RATE_LIMIT_BURST', 40),
    tokensFile: required(env, 'PLANNER_TOKENS_FILE', 'create one with `npm run token -- add`'),
  };
}
