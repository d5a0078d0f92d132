import { takeToken, type Bucket } from './rate-limit.middleware';

describe('takeToken (the worked example of its doc comment)', () => {
  it('a full bucket of 40 at 20/s lets 40 through at once; the 41st waits 50 ms', () => {
    const b: Bucket = { tokens: 40, at: 0 };
    const results = Array.from({ length: 41 }, () => takeToken(b, 0, 20, 40));
    expect(results.slice(0, 40).every((r) => r.ok)).toBe(true);
    expect(results[40]).toEqual({ ok: false, retryAfterMs: 50 });
    expect(takeToken(b, 50, 20, 40).ok).toBe(true);
  });

  it('never refills past the burst', () => {
    const b: Bucket = { tokens: 0, at: 0 };
    takeToken(b, 3_600_000, 20, 40);
    expect(b.tokens).toBe(39);
  });
});
