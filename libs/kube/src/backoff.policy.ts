/**
 * Exponential backoff with "full jitter" (AWS architecture blog): the n-th wait (n from 0) is
 * drawn uniformly from [base/2, min(max, initial * factor^n)], so many executors refused by the
 * same PodDisruptionBudget do not retry in lockstep, and a wait is never shorter than half
 * its base (no busy loop).
 *
 * Worked example (initial 500 ms, factor 2, max 10 s), waits before jitter:
 *   500, 1000, 2000, 4000, 8000, 10000, 10000, ...
 * With random() = 0 the waits are half of those; with random() -> 1 they approach them.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000, factor: 2 };

/** Wait before retry number `attempt` (0 = the first retry). `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const base = Math.min(opts.maxMs, opts.initialMs * Math.pow(opts.factor, Math.max(0, attempt)));
  const low = base / 2;
  return Math.round(low + (base - low) * random());
}

/** Sleeps `ms`, resolving early (with false) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
