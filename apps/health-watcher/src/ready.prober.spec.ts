import type { ReadyProbe } from '@ringmaster/rollout-core';
import { notNewer } from './cluster-watch.supervisor';
import { ReadyProber } from './ready.prober';
import type { ProbeCandidate } from './target-state.tracker';

const target = { cluster: 'c', namespace: 'n' };
const cand = (pod: string, url: string | undefined): ProbeCandidate => ({
  target,
  pod,
  uid: `uid-${pod}`,
  readySince: 1,
  url,
});

describe('ReadyProber.runOnce', () => {
  it('asks each candidate once, maps the answers, and fails a pod with no URL unasked', async () => {
    const asked: string[] = [];
    const results: Array<[string, ReadyProbe]> = [];
    const statuses: Record<string, number | undefined> = {
      'http://a/ready': 200,
      'http://b/ready': 503,
      'http://c/ready': undefined, // timeout / connection refused
    };
    const prober = new ReadyProber({
      intervalMs: 1000,
      timeoutMs: 100,
      concurrency: 2,
      candidates: () => [
        cand('a', 'http://a/ready'),
        cand('b', 'http://b/ready'),
        cand('c', 'http://c/ready'),
        cand('d', undefined),
      ],
      onResult: (c, r) => results.push([c.pod, r]),
      get: async (url, timeoutMs) => {
        expect(timeoutMs).toBe(100);
        asked.push(url);
        return statuses[url];
      },
    });
    await prober.runOnce();
    expect(asked.sort()).toEqual(['http://a/ready', 'http://b/ready', 'http://c/ready']);
    expect(results.sort()).toEqual([
      ['a', 'ok'],
      ['b', 'failing'],
      ['c', 'failing'],
      ['d', 'failing'],
    ]);
    expect(prober.stats()).toMatchObject({ rounds: 1, requests: 3, ok: 1, failing: 3 });
  });

  it('never runs more than `concurrency` requests at once', async () => {
    let running = 0;
    let peak = 0;
    const prober = new ReadyProber({
      intervalMs: 1000,
      timeoutMs: 100,
      concurrency: 3,
      candidates: () => Array.from({ length: 10 }, (_, i) => cand(`p${i}`, `http://p${i}/`)),
      onResult: () => undefined,
      get: async () => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return 200;
      },
    });
    await prober.runOnce();
    expect(peak).toBe(3);
  });
});

describe('notNewer (read-back of the topics)', () => {
  it.each([
    ['100', '200', true],
    ['200', '200', true],
    ['201', '200', false],
    ['99999999999999999999', '100000000000000000000', true],
    [undefined, '200', true],
    ['abc', '200', true],
  ])('%s vs %s -> %s', (a, b, expected) => {
    expect(notNewer(a, b)).toBe(expected);
  });
});
