/**
 * Latency and outcome bookkeeping for the load bench (test/bench/load.bench.ts): samples per
 * operation, percentiles by nearest rank, and answers counted by class. Pure (no clock, no I/O)
 * so its arithmetic has a unit test; the bench passes the times in.
 *
 *   const r = new LatencyRecorder();
 *   r.add('list', 12.5, 200); r.add('list', 30, 200); r.add('list', 4, 503);
 *   r.summary('list', 10_000) -> { count: 3, rps: 0.3, p50: 12.5, ..., max: 30, byStatus: { 200: 2, 503: 1 } }
 */

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface OpSummary {
  op: string;
  count: number;
  /** Answers per second over the window the caller names. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** HTTP status (0 = no answer: connection refused, reset, timeout) -> count. */
  byStatus: Record<number, number>;
}

export class LatencyRecorder {
  private readonly ops_ = new Map<string, { ms: number[]; byStatus: Map<number, number> }>();

  /** One answered (or failed) call of `op` that took `ms`. */
  add(op: string, ms: number, status: number): void {
    let o = this.ops_.get(op);
    if (!o) this.ops_.set(op, (o = { ms: [], byStatus: new Map() }));
    o.ms.push(ms);
    o.byStatus.set(status, (o.byStatus.get(status) ?? 0) + 1);
  }

  ops(): string[] {
    return [...this.ops_.keys()];
  }

  summary(op: string, windowMs: number): OpSummary {
    return summarize(op, [this.ops_.get(op)], windowMs);
  }

  /** The ops `only` selects (all by default) taken together, e.g. every REST call of a phase. */
  total(windowMs: number, name = 'all', only: (op: string) => boolean = () => true): OpSummary {
    return summarize(
      name,
      this.ops()
        .filter(only)
        .map((op) => this.ops_.get(op)),
      windowMs,
    );
  }

  /** Calls answered with a status matching `pred`, over the ops `only` selects. */
  countStatus(
    pred: (status: number) => boolean,
    only: (op: string) => boolean = () => true,
  ): number {
    let n = 0;
    for (const [op, o] of this.ops_) {
      if (!only(op)) continue;
      for (const [status, c] of o.byStatus) if (pred(status)) n += c;
    }
    return n;
  }
}

function summarize(
  op: string,
  parts: ({ ms: number[]; byStatus: Map<number, number> } | undefined)[],
  windowMs: number,
): OpSummary {
  const s = parts.flatMap((p) => p?.ms ?? []).sort((a, b) => a - b);
  const byStatus: Record<number, number> = {};
  for (const p of parts)
    for (const [status, n] of p?.byStatus ?? []) byStatus[status] = (byStatus[status] ?? 0) + n;
  return {
    op,
    count: s.length,
    rps: windowMs > 0 ? s.length / (windowMs / 1000) : NaN,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1] : NaN,
    byStatus,
  };
}

/** A fixed-width table: header, a rule, one row per line; numbers rounded for reading. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(fmt))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const lines = cells.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '),
  );
  return [lines[0], '-'.repeat(lines[0].length), ...lines.slice(1)].join('\n');
}

function fmt(v: string | number): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
