/**
 * A request flood is refused cleanly: a token bucket per caller (its token's name, else its
 * address) for the mutating endpoints (POST), answering 429 with Retry-After once a caller has
 * spent its burst. Reads are cheap and stay unlimited. Sized by PLANNER_RATE_LIMIT_RPS (default 20) and
 * PLANNER_RATE_LIMIT_BURST (default 40); 0 turns it off (load tests).
 *
 * takeToken(bucket, now, rps, burst) with a full bucket of 40 at 20/s: 40 requests pass at once,
 * the 41st waits 50 ms.
 */
import type { NextFunction, Request, Response } from 'express';
import { principalOf } from './auth/access.guard';

export interface Bucket {
  tokens: number;
  at: number;
}

/** Refills by elapsed time, then takes a token if there is one. Pure. */
export function takeToken(
  b: Bucket,
  now: number,
  rps: number,
  burst: number,
): { ok: boolean; retryAfterMs: number } {
  b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rps);
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return { ok: true, retryAfterMs: 0 };
  }
  return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / rps) * 1000) };
}

const MAX_CLIENTS = 10_000;

export function rateLimit(rps: number, burst: number, clock: () => number = Date.now) {
  const buckets = new Map<string, Bucket>();
  return (req: Request, res: Response, next: NextFunction): void => {
    if (rps <= 0 || req.method !== 'POST') return next();
    // Per caller (token) once authenticated; per address otherwise.
    const key = principalOf(req)?.name ?? req.ip ?? req.socket.remoteAddress ?? 'unknown';
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_CLIENTS) buckets.clear(); // bounded memory under address spraying
      buckets.set(key, (b = { tokens: burst, at: clock() }));
    }
    const r = takeToken(b, clock(), rps, burst);
    if (r.ok) return next();
    res.setHeader('Retry-After', String(Math.ceil(r.retryAfterMs / 1000)));
    res.status(429).json({
      statusCode: 429,
      error: 'Too Many Requests',
      message: `rate limit: ${rps} requests/s (burst ${burst}) per client; retry in ${r.retryAfterMs} ms`,
    });
  };
}
