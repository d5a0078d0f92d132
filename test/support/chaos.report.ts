/**
 * The chaos lane's tally. Each chaos case (test/chaos/*.chaos-spec.ts) records what its own
 * observers counted; scripts/chaos.sh sums the records of one run into the lane's last line:
 *
 *   chaos: cases=<n> rollouts=<n> violations=<n> double_restarts=<n> lost=<n>
 *
 * The counts come from observers that do not trust the code under test (the availability
 * observer's own watch, the test's own reads of Postgres and of the topics), never from the
 * planner's view of itself.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './stack';

export interface ChaosCaseRecord {
  /** A short name of the fault(s) injected, e.g. `planner-sigkill`, `kafka-restart+latency`. */
  case: string;
  rollouts: number;
  /** Instants at which more pods of a component (or zone) were unavailable than allowed. */
  violations: number;
  /** Targeted pods replaced more than once. */
  doubleRestarts: number;
  /** Rollouts, audit events, commands or results that a case expected and did not find. */
  lost: number;
  detail?: unknown;
}

export const CHAOS_DIR = process.env.RINGMASTER_CHAOS_DIR ?? join(ROOT, '.ringmaster', 'chaos');

export function recordChaosCase(r: ChaosCaseRecord): void {
  mkdirSync(CHAOS_DIR, { recursive: true });
  const file = `${r.case.replace(/[^a-z0-9+._-]/gi, '_')}.json`;
  writeFileSync(join(CHAOS_DIR, file), JSON.stringify(r, null, 2));
}

/** The summary line of every record in CHAOS_DIR. */
export function chaosSummary(dir = CHAOS_DIR): string {
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ChaosCaseRecord);
  const sum = (k: keyof ChaosCaseRecord) => records.reduce((n, r) => n + Number(r[k] ?? 0), 0);
  return `chaos: cases=${records.length} rollouts=${sum('rollouts')} violations=${sum('violations')} double_restarts=${sum('doubleRestarts')} lost=${sum('lost')}`;
}
