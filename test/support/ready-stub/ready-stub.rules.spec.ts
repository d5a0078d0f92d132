import type { V1Pod } from '@kubernetes/client-node';
import { nextPodState, parseReadyPath, readyAnswer } from './ready-stub.rules';

const NOW = Date.parse('2025-01-01T00:10:00Z');

function pod(uid: string, ready: boolean, since = '2025-01-01T00:00:00Z'): V1Pod {
  return {
    metadata: { name: 'mimir-0', namespace: 'mimir-mono', uid },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          lastTransitionTime: since as unknown as Date,
        },
      ],
    },
  };
}

describe('readyAnswer', () => {
  it.each([
    [undefined, 503, 'unknown pod'],
    [{ uid: 'u' }, 503, 'pod not Ready'],
    [{ uid: 'u', readySince: NOW - 500 }, 503, 'Ready for 500 of 2000 ms'],
    [{ uid: 'u', readySince: NOW - 2000 }, 200, 'ready'],
  ])('%j -> %i', (state, status, body) => {
    const a = readyAnswer(state, NOW, 2000);
    expect(a.status).toBe(status);
    expect(a.body).toContain(body);
  });
});

describe('nextPodState', () => {
  it('a pod Ready in the first list counts from its Ready condition', () => {
    expect(nextPodState(undefined, pod('u', true), NOW, true)).toEqual({
      uid: 'u',
      readySince: Date.parse('2025-01-01T00:00:00Z'),
    });
  });
  it('a pod turning Ready while watched counts from now; staying Ready keeps the time', () => {
    const s1 = nextPodState({ uid: 'u' }, pod('u', true), NOW, false);
    expect(s1).toEqual({ uid: 'u', readySince: NOW });
    expect(nextPodState(s1, pod('u', true), NOW + 5000, false)).toBe(s1);
  });
  it('a new uid or a NotReady pod starts over', () => {
    const s1 = { uid: 'u', readySince: NOW - 10_000 };
    expect(nextPodState(s1, pod('v', true), NOW, false)).toEqual({ uid: 'v', readySince: NOW });
    expect(nextPodState(s1, pod('u', false), NOW, false)).toEqual({ uid: 'u' });
  });
});

describe('parseReadyPath', () => {
  it.each([
    ['/ready/mimir-mono/mimir-0', { namespace: 'mimir-mono', pod: 'mimir-0' }],
    ['/ready/mimir-mono/mimir-0/', { namespace: 'mimir-mono', pod: 'mimir-0' }],
    ['/ready/mimir-mono/mimir-0?x=1', { namespace: 'mimir-mono', pod: 'mimir-0' }],
    ['/ready', undefined],
    ['/ready/a/b/c', undefined],
    ['/metrics', undefined],
  ])('%s', (path, parsed) => {
    expect(parseReadyPath(path)).toEqual(parsed);
  });
});
