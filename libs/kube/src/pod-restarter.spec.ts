import type { V1Pod } from '@kubernetes/client-node';
import type { RestartPodCommand } from '@ringmaster/rollout-core';
import { KubeRetriableError } from './kube.errors';
import { type EvictionRefusal, type PodRestartApi, restartPodWith } from './pod-restarter';

function apiException(code: number, status: object = {}, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`HTTP-Code: ${code}`), {
    code,
    body: JSON.stringify({ kind: 'Status', code, ...status }),
    headers,
  });
}

const PDB_429 = apiException(429, {
  reason: 'TooManyRequests',
  message: "Cannot evict pod as it would violate the pod's disruption budget.",
  details: {
    causes: [
      {
        reason: 'DisruptionBudget',
        message: 'The disruption budget mimir-ingester needs 5 healthy pods and has 5 currently',
      },
    ],
  },
});

const cmd: RestartPodCommand = {
  kind: 'restart-pod',
  id: 'r1:7',
  rolloutId: 'r1',
  target: { cluster: 'c1', namespace: 'mimir' },
  pod: 'mimir-ingester-zone-a-0',
  uid: 'u1',
  method: 'evict',
};

const pod = (uid = 'u1', deleting = false): V1Pod => ({
  metadata: {
    name: cmd.pod,
    namespace: 'mimir',
    uid,
    ...(deleting ? { deletionTimestamp: new Date(0) } : {}),
  },
});

/** A fake API: each call pops the next scripted answer (an object resolves, an Error rejects). */
function fakeApi(script: { read?: unknown[]; evict?: unknown[]; del?: unknown[] }) {
  const calls: { op: string; arg: unknown }[] = [];
  const next = (q: unknown[] | undefined, op: string, arg: unknown) => {
    calls.push({ op, arg });
    const a = q?.shift();
    return a instanceof Error ? Promise.reject(a) : Promise.resolve(a ?? {});
  };
  const api = {
    readNamespacedPod: (arg: unknown) => next(script.read, 'read', arg),
    createNamespacedPodEviction: (arg: unknown) => next(script.evict, 'evict', arg),
    deleteNamespacedPod: (arg: unknown) => next(script.del, 'delete', arg),
  } as unknown as PodRestartApi;
  return { api, calls };
}

/** Virtual time: sleep advances the clock. */
function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
      return true;
    },
    sleeps,
  };
}

describe('restartPodWith', () => {
  it('evicts with the uid precondition', async () => {
    const { api, calls } = fakeApi({ read: [pod()] });
    await expect(restartPodWith(api, cmd)).resolves.toMatchObject({ outcome: 'done' });
    expect(calls[1]).toEqual({
      op: 'evict',
      arg: {
        name: cmd.pod,
        namespace: 'mimir',
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: cmd.pod, namespace: 'mimir' },
          deleteOptions: { preconditions: { uid: 'u1' } },
        },
      },
    });
  });

  it.each<[string, { read?: unknown[]; evict?: unknown[] }, string, RegExp]>([
    ['pod gone before the read', { read: [apiException(404)] }, 'already-done', /is gone/],
    [
      'pod replaced (other uid)',
      { read: [pod('u2')] },
      'already-done',
      /replaced \(uid u2, command for u1\)/,
    ],
    ['pod already terminating', { read: [pod('u1', true)] }, 'already-done', /already terminating/],
    [
      'pod gone at eviction (404)',
      { read: [pod()], evict: [apiException(404)] },
      'already-done',
      /is gone/,
    ],
    [
      'replaced between read and eviction (409 precondition)',
      { read: [pod()], evict: [apiException(409, { reason: 'Conflict' })] },
      'already-done',
      /uid precondition/,
    ],
    [
      'forbidden (403)',
      {
        read: [pod()],
        evict: [apiException(403, { reason: 'Forbidden', message: 'evictions is forbidden' })],
      },
      'failed',
      /403 Forbidden: evictions is forbidden/,
    ],
    [
      'invalid (422)',
      { read: [pod()], evict: [apiException(422, { reason: 'Invalid', message: 'bad' })] },
      'failed',
      /422 Invalid/,
    ],
    [
      'several PDBs (500, permanent)',
      {
        read: [pod()],
        evict: [
          apiException(500, {
            message:
              'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
          }),
        ],
      },
      'failed',
      /more than one PodDisruptionBudget/,
    ],
    [
      'read forbidden',
      { read: [apiException(403, { reason: 'Forbidden', message: 'no' })] },
      'failed',
      /^read pod c1\/mimir\/mimir-ingester-zone-a-0: 403/,
    ],
  ])('%s -> %s', async (_t, script, outcome, detail) => {
    const { api } = fakeApi(script);
    const r = await restartPodWith(api, cmd);
    expect(r.outcome).toBe(outcome);
    expect(r.detail).toMatch(detail);
  });

  it.each<[string, { read?: unknown[]; evict?: unknown[] }]>([
    ['503 on read', { read: [apiException(503, { message: 'unavailable' })] }],
    ['503 on eviction', { read: [pod()], evict: [apiException(503)] }],
    [
      'connection reset on eviction',
      {
        read: [pod()],
        evict: [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
      },
    ],
  ])('%s throws KubeRetriableError', async (_t, script) => {
    const { api } = fakeApi(script);
    await expect(restartPodWith(api, cmd)).rejects.toBeInstanceOf(KubeRetriableError);
  });

  it('retries 429 refusals with growing jittered waits, reporting each, until the budget allows', async () => {
    const { api, calls } = fakeApi({ read: [pod()], evict: [PDB_429, PDB_429, PDB_429, {}] });
    const c = clock();
    const refusals: EvictionRefusal[] = [];
    const r = await restartPodWith(api, cmd, {
      now: c.now,
      sleep: c.sleep,
      random: () => 0,
      onRefused: (x) => refusals.push(x),
    });
    expect(r).toEqual({
      outcome: 'done',
      detail: 'pod c1/mimir/mimir-ingester-zone-a-0 evicted (uid u1) after 3 refusal(s)',
    });
    expect(c.sleeps).toEqual([250, 500, 1000]);
    expect(refusals.map((x) => [x.attempt, x.retryInMs])).toEqual([
      [1, 250],
      [2, 500],
      [3, 1000],
    ]);
    expect(refusals[0].message).toBe(
      "Cannot evict pod as it would violate the pod's disruption budget. (The disruption budget mimir-ingester needs 5 healthy pods and has 5 currently)",
    );
    expect(calls.filter((x) => x.op === 'delete')).toEqual([]); // never turned into a delete
  });

  it('returns refused with the last message once the deadline passes', async () => {
    const { api, calls } = fakeApi({ read: [pod()], evict: Array(100).fill(PDB_429) });
    const c = clock();
    const refusals: EvictionRefusal[] = [];
    const r = await restartPodWith(api, cmd, {
      now: c.now,
      sleep: c.sleep,
      random: () => 0.5,
      refusalDeadlineMs: 5000,
      onRefused: (x) => refusals.push(x),
    });
    expect(r.outcome).toBe('refused');
    expect(r.detail).toMatch(/eviction refused \d+ time\(s\): Cannot evict pod/);
    expect(c.now()).toBe(5000); // the last wait is cut to the deadline
    expect(refusals[refusals.length - 1].retryInMs).toBeUndefined();
    expect(calls.filter((x) => x.op === 'evict')).toHaveLength(refusals.length);
  });

  it('honours Retry-After when longer than the backoff', async () => {
    const { api } = fakeApi({
      read: [pod()],
      evict: [apiException(429, { reason: 'TooManyRequests' }, { 'retry-after': '3' }), {}],
    });
    const c = clock();
    await restartPodWith(api, cmd, { now: c.now, sleep: c.sleep, random: () => 0 });
    expect(c.sleeps).toEqual([3000]);
  });

  it('a deadline of 0 makes a single attempt', async () => {
    const { api } = fakeApi({ read: [pod()], evict: [PDB_429] });
    const c = clock();
    await expect(
      restartPodWith(api, cmd, { now: c.now, sleep: c.sleep, refusalDeadlineMs: 0 }),
    ).resolves.toMatchObject({ outcome: 'refused' });
    expect(c.sleeps).toEqual([]);
  });

  it('stops waiting when aborted', async () => {
    const { api } = fakeApi({ read: [pod()], evict: [PDB_429] });
    const r = await restartPodWith(api, cmd, { sleep: async () => false });
    expect(r).toMatchObject({ outcome: 'refused' });
    expect(r.detail).toMatch(/stopped waiting/);
  });

  describe("method 'delete'", () => {
    const del = { ...cmd, method: 'delete' as const };

    it('deletes with the uid precondition', async () => {
      const { api, calls } = fakeApi({ read: [pod()] });
      await expect(restartPodWith(api, del)).resolves.toMatchObject({ outcome: 'done' });
      expect(calls[1]).toEqual({
        op: 'delete',
        arg: { name: cmd.pod, namespace: 'mimir', body: { preconditions: { uid: 'u1' } } },
      });
    });

    it.each<[number, string]>([
      [404, 'already-done'],
      [409, 'already-done'],
      [403, 'failed'],
    ])('%i -> %s', async (code, outcome) => {
      const { api } = fakeApi({ read: [pod()], del: [apiException(code)] });
      await expect(restartPodWith(api, del)).resolves.toMatchObject({ outcome });
    });
  });
});
