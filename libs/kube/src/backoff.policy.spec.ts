import { DEFAULT_BACKOFF, backoffDelay, sleep } from './backoff.policy';

describe('backoffDelay', () => {
  it.each([
    [0, 0, 250],
    [0, 0.999999, 500],
    [1, 0, 500],
    [2, 1 - 1e-9, 2000],
    [4, 0, 4000],
    [5, 0, 5000],
    [30, 0.999999, 10000],
  ])('attempt %i with random %f waits %i ms (initial 500, x2, max 10 s)', (attempt, r, ms) => {
    expect(backoffDelay(attempt, DEFAULT_BACKOFF, () => r)).toBe(ms);
  });

  it('never exceeds the max and never drops below half the base', () => {
    for (let a = 0; a < 50; a++) {
      const d = backoffDelay(a, { initialMs: 100, maxMs: 1000, factor: 3 });
      expect(d).toBeLessThanOrEqual(1000);
      expect(d).toBeGreaterThanOrEqual(Math.min(1000, 100 * 3 ** a) / 2);
    }
  });
});

describe('sleep', () => {
  it('resolves false at once when aborted', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await expect(p).resolves.toBe(false);
  });

  it('resolves true after the delay', async () => {
    await expect(sleep(1)).resolves.toBe(true);
  });
});
