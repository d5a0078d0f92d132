/**
 * The query of `GET /v1/rollouts`, checked before anything reaches the database: every
 * problem is a 400 naming its parameter. Postgres refuses a NUL character in text outright,
 * so a filter or cursor holding one is refused here rather than answered 500. An unknown
 * parameter (a misspelt filter) is refused too rather than silently ignored.
 */
import { ROLLOUT_STATUSES } from '@ringmaster/persistence';
import type { RolloutStatus } from '@ringmaster/rollout-core';

export interface ListQuery {
  status?: RolloutStatus[];
  cluster?: string;
  limit?: number;
  cursor?: string;
}

export type RawQuery = Record<string, unknown>;

const KNOWN = ['status', 'cluster', 'limit', 'cursor'];

function single(q: RawQuery, name: string, problems: string[]): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    problems.push(`${name}: give it once, as a plain value`);
    return undefined;
  }
  if (v === '') {
    problems.push(`${name}: empty (leave it out instead)`);
    return undefined;
  }
  if (v.includes('\0')) {
    problems.push(`${name}: must not contain a NUL character`);
    return undefined;
  }
  return v;
}

/** The filter, or the list of problems (each naming its parameter). */
export function parseListQuery(
  q: RawQuery,
): { ok: true; value: ListQuery } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  for (const name of Object.keys(q).filter((k) => !KNOWN.includes(k)))
    problems.push(`${JSON.stringify(name)}: unknown query parameter (one of ${KNOWN.join(', ')})`);
  const rawStatus = q.status;
  const statusValues =
    rawStatus === undefined
      ? []
      : Array.isArray(rawStatus) && rawStatus.every((s) => typeof s === 'string')
        ? (rawStatus as string[])
        : typeof rawStatus === 'string'
          ? [rawStatus]
          : null;
  const statuses = (statusValues ?? []).flatMap((s) => s.split(','));
  if (statusValues === null) problems.push('status: a comma-separated list of statuses');
  const bad = statuses.filter((s) => !(ROLLOUT_STATUSES as readonly string[]).includes(s));
  if (bad.length)
    problems.push(
      `status: unknown value(s) ${bad.map((s) => JSON.stringify(s)).join(', ')} (one of ${ROLLOUT_STATUSES.join(', ')})`,
    );
  const cluster = single(q, 'cluster', problems);
  const cursor = single(q, 'cursor', problems);
  const rawLimit = single(q, 'limit', problems);
  const limit = rawLimit === undefined ? undefined : Number(rawLimit);
  if (
    limit !== undefined &&
    (!/^\s*\d+\s*$/.test(rawLimit ?? '') || !Number.isInteger(limit) || limit < 1 || limit > 500)
  )
    problems.push('limit: an integer 1-500');
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    value: {
      status: statuses.length ? (statuses as RolloutStatus[]) : undefined,
      cluster,
      limit,
      cursor,
    },
  };
}
