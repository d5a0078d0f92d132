import { LatencyRecorder, percentile, table } from './latency.recorder';

describe('percentile (nearest rank)', () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it('takes the sample at rank ceil(p/100 * n)', () => {
    expect(percentile(ten, 50)).toBe(5);
    expect(percentile(ten, 90)).toBe(9);
    expect(percentile(ten, 99)).toBe(10);
    expect(percentile(ten, 100)).toBe(10);
    expect(percentile(ten, 0)).toBe(1);
  });

  it('is NaN without samples', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('LatencyRecorder', () => {
  it('summarizes one op: count, rate over the window, percentiles, statuses', () => {
    const r = new LatencyRecorder();
    r.add('list', 12.5, 200);
    r.add('list', 30, 200);
    r.add('list', 4, 503);
    expect(r.summary('list', 10_000)).toEqual({
      op: 'list',
      count: 3,
      rps: 0.3,
      p50: 12.5,
      p90: 30,
      p99: 30,
      max: 30,
      byStatus: { 200: 2, 503: 1 },
    });
  });

  it('totals the selected ops and counts statuses across them', () => {
    const r = new LatencyRecorder();
    r.add('a', 1, 200);
    r.add('b', 3, 429);
    r.add('b', 2, 500);
    r.add('idle:healthz', 100, 200);
    const rest = (op: string) => !op.startsWith('idle:');
    expect(r.total(1000, 'rest', rest)).toMatchObject({
      count: 3,
      rps: 3,
      p50: 2,
      max: 3,
      byStatus: { 200: 1, 429: 1, 500: 1 },
    });
    expect(r.countStatus((s) => s >= 500, rest)).toBe(1);
    expect(r.countStatus((s) => s === 200)).toBe(2);
    expect(r.summary('none', 1000).count).toBe(0);
  });
});

describe('table', () => {
  it('pads columns, left-aligns the first and rounds numbers', () => {
    expect(
      table(
        ['op', 'n', 'p50'],
        [
          ['list', 120, 3.14159],
          ['dry-run', 7, 123.4],
        ],
      ),
    ).toBe(
      ['op         n   p50', '------------------', 'list     120  3.14', 'dry-run    7   123'].join(
        '\n',
      ),
    );
  });
});
