/**
 * One active rollout per target, against the real Postgres (scripts/infra.sh up): an insert
 * with `exclusiveTargets` is refused while an unfinished rollout holds one of its targets, also
 * when the requests race (on one connection pool or on two "planner instances"), and a replay
 * of the holding request returns the holder instead. Found by the load bench (npm run
 * bench:load): two concurrent requests for one target both became rollouts, each deciding over
 * the same availability budget.
 */
import { randomUUID } from 'node:crypto';
import { RolloutRepository } from './rollout.repository';
import { TargetBusyError } from './persistence.errors';
import { openTestDatabase, type TestDatabase } from './test-database.helper';
import {
  createRollout,
  type RolloutState,
  type RolloutStatus,
  type TargetRef,
} from '@ringmaster/rollout-core';

jest.setTimeout(30_000);

let db: TestDatabase;
let repo: RolloutRepository;
let n = 0;

beforeAll(async () => {
  db = await openTestDatabase('rm_excl');
  repo = new RolloutRepository(db.ds);
});
afterAll(async () => {
  await db?.drop();
});

/** Targets unique to the calling test. */
const fresh = (...names: string[]): TargetRef[] => {
  n++;
  return names.map((x) => ({ cluster: `c${n}`, namespace: x }));
};
const rollout = (...targets: TargetRef[]): RolloutState =>
  createRollout(
    randomUUID(),
    {
      targets,
      change: { kind: 'restart' },
      soakSeconds: 0,
      instanceTimeoutSeconds: 600,
      restartMethod: 'evict',
      maxParallelTargets: 1,
    },
    Date.now(),
  );
const exclusive = (
  state: RolloutState,
  extra: { idempotencyKey?: string; requestId?: string } = {},
  r = repo,
) => r.insertRollout(state, { ...extra, exclusiveTargets: true });

async function setStatus(id: string, status: RolloutStatus): Promise<void> {
  const r = (await repo.get(id))!;
  await repo.saveDecision({
    rolloutId: id,
    expectedVersion: r.version,
    state: { ...r.state, status },
  });
}

async function refusal(p: Promise<unknown>): Promise<TargetBusyError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof TargetBusyError)) throw new Error(`expected TargetBusyError, got ${e}`);
  return e;
}

describe('insertRollout with exclusiveTargets', () => {
  it('refuses a target held by an active rollout, naming the holder; other targets are free', async () => {
    const [a, b] = fresh('a', 'b');
    const first = await exclusive(rollout(a));
    expect(first.created).toBe(true);

    const e = await refusal(exclusive(rollout(b, a)));
    expect(e.holders).toEqual([
      { target: `${a.cluster}/a`, rolloutId: first.rollout.id, status: 'pending' },
    ]);
    expect(e.message).toContain(`${a.cluster}/a has an active rollout ${first.rollout.id}`);
    // Nothing of the refused rollout was written.
    expect((await repo.list({ cluster: a.cluster })).items.map((r) => r.id)).toEqual([
      first.rollout.id,
    ]);

    expect((await exclusive(rollout(b))).created).toBe(true);
  });

  it.each(['running', 'paused', 'blocked'] as const)(
    'status %s still holds its target',
    async (status) => {
      const [a] = fresh('a');
      const first = await exclusive(rollout(a));
      await setStatus(first.rollout.id, status);
      const e = await refusal(exclusive(rollout(a)));
      expect(e.holders[0].status).toBe(status);
    },
  );

  it.each(['succeeded', 'failed', 'aborted'] as const)(
    'status %s frees its target',
    async (status) => {
      const [a] = fresh('a');
      const first = await exclusive(rollout(a));
      await setStatus(first.rollout.id, status);
      expect((await exclusive(rollout(a))).created).toBe(true);
    },
  );

  it('a replay of the holding request returns the holder instead of refusing', async () => {
    const [a] = fresh('a');
    const key = randomUUID();
    const requestId = randomUUID();
    const byKey = await exclusive(rollout(a), { idempotencyKey: key });
    const replay = await exclusive(rollout(a), { idempotencyKey: key });
    expect(replay).toMatchObject({ created: false, matchedOn: 'idempotency_key' });
    expect(replay.rollout.id).toBe(byKey.rollout.id);

    await setStatus(byKey.rollout.id, 'succeeded');
    const byRequest = await exclusive(rollout(a), { requestId });
    const again = await exclusive(rollout(a), { requestId });
    expect(again).toMatchObject({ created: false, matchedOn: 'request_id' });
    expect(again.rollout.id).toBe(byRequest.rollout.id);
  });

  it('concurrent requests for one target, from two connection pools, create exactly one', async () => {
    const [a] = fresh('a');
    const other = new RolloutRepository(await db.openAnother());
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => exclusive(rollout(a), {}, i % 2 ? other : repo)),
    );
    const created = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter(
      (o) => o.status === 'rejected' && o.reason instanceof TargetBusyError,
    );
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(9);
    expect((await repo.list({ cluster: a.cluster })).items).toHaveLength(1);
  });

  it('concurrent retries of one request with one Idempotency-Key give one rollout, never a refusal', async () => {
    const [a] = fresh('a');
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 6 }, () => exclusive(rollout(a), { idempotencyKey: key })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.rollout.id)).size).toBe(1);
  });

  it('requests over crossing target sets neither deadlock nor both win', async () => {
    const [a, b] = fresh('a', 'b');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => exclusive(i % 2 ? rollout(a, b) : rollout(b, a))),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(
      outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof TargetBusyError),
    ).toHaveLength(7);
  });

  it('without the option, inserts are not checked (the repository default)', async () => {
    const [a] = fresh('a');
    await repo.insertRollout(rollout(a));
    expect((await repo.insertRollout(rollout(a))).created).toBe(true);
  });
});
