/**
 * Against the real Postgres (scripts/infra.sh up). Isolation: each describe block below shares
 * one fresh schema created for this run (`rm_test_<time>_<random>`, see test-database.helper),
 * dropped in afterAll; tests use their own rollout ids and lease names, so order doesn't matter.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { createRollout, type RolloutSpec, type RolloutState } from '@ringmaster/rollout-core';
import { LeaseRepository } from './lease.repository';
import { OutboxRepository } from './outbox.repository';
import {
  InvalidCursorError,
  RolloutNotFoundError,
  RolloutVersionConflictError,
} from './persistence.errors';
import { RolloutRepository } from './rollout.repository';
import { openTestDatabase, type TestDatabase } from './test-database.helper';

jest.setTimeout(30_000);

const spec = (...clusters: string[]): RolloutSpec => ({
  targets: clusters.map((cluster) => ({ cluster, namespace: 'mimir' })),
  change: { kind: 'restart' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 600,
  restartMethod: 'evict',
  maxParallelTargets: 1,
});
const newRollout = (createdAt = Date.now(), ...clusters: string[]): RolloutState =>
  createRollout(randomUUID(), spec(...(clusters.length ? clusters : ['eu-1'])), createdAt);

let db: TestDatabase;
let rollouts: RolloutRepository;
let outbox: OutboxRepository;

beforeAll(async () => {
  db = await openTestDatabase();
  rollouts = new RolloutRepository(db.ds);
  outbox = new OutboxRepository(db.ds);
});
afterAll(async () => {
  await db?.drop();
});

describe('migrations', () => {
  it('apply on an empty schema and create every table', async () => {
    const tables = await db.ds.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`,
      [db.schema],
    );
    expect(tables.map((t: { table_name: string }) => t.table_name)).toEqual([
      'leases',
      'migrations',
      'outbox',
      'rollout_events',
      'rollout_targets',
      'rollouts',
    ]);
    const applied = await db.ds.query(`SELECT name FROM migrations`);
    expect(applied).toEqual([{ name: 'InitialSchema1795737600000' }]);
  });

  it('are not applied twice when another process starts on the same schema', async () => {
    const other = await db.openAnother();
    expect(await other.query(`SELECT count(*)::int AS n FROM migrations`)).toEqual([{ n: 1 }]);
  });

  it('match the entities (TypeORM finds nothing to synchronize)', async () => {
    const diff = await db.ds.driver.createSchemaBuilder().log();
    expect(diff.upQueries.map((q) => q.query)).toEqual([]);
  });
});

describe('RolloutRepository', () => {
  it('inserts a rollout at version 1 with its targets and audit entries', async () => {
    const state = newRollout(Date.now(), 'eu-1', 'us-1');
    const r = await rollouts.insertRollout(state, {
      requestedBy: 'alice',
      audit: [{ at: state.createdAt, type: 'created', message: 'by alice' }],
    });
    expect(r.created).toBe(true);
    expect(r.rollout).toMatchObject({
      id: state.id,
      status: 'pending',
      version: 1,
      requestedBy: 'alice',
      targets: state.spec.targets,
    });
    expect(r.rollout.state).toEqual(state);
    expect(r.rollout.createdAt.getTime()).toBe(state.createdAt);
    expect(await rollouts.get(state.id)).toEqual(r.rollout);
    expect(await rollouts.events(state.id)).toEqual([
      expect.objectContaining({ type: 'created', message: 'by alice', data: null }),
    ]);
  });

  it('is idempotent on the idempotency key: the second insert returns the first rollout', async () => {
    const first = await rollouts.insertRollout(newRollout(), { idempotencyKey: 'key-1' });
    const second = await rollouts.insertRollout(newRollout(), {
      idempotencyKey: 'key-1',
      audit: [{ at: 1, type: 'x', message: 'x' }],
    });
    expect(second).toEqual({
      created: false,
      rollout: first.rollout,
      matchedOn: 'idempotency_key',
    });
    expect(await rollouts.events(first.rollout.id)).toEqual([]);
  });

  it('creates exactly one rollout for concurrent inserts with one request id', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => rollouts.insertRollout(newRollout(), { requestId: 'req-1' })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.rollout.id)).size).toBe(1);
  });

  it('saveDecision writes state, audit and outbox together and bumps the version', async () => {
    const { rollout } = await rollouts.insertRollout(newRollout());
    const running: RolloutState = { ...rollout.state, status: 'running', startedAt: 5 };
    const saved = await rollouts.saveDecision({
      rolloutId: rollout.id,
      expectedVersion: 1,
      state: running,
      audit: [{ at: 5, type: 'started', message: 'go', data: { n: 1 } }],
      outbox: [{ topic: 'rollout.commands', key: 'eu-1', payload: { id: `${rollout.id}:1` } }],
    });
    expect(saved).toEqual({ version: 2, outboxIds: [expect.any(String)] });
    const loaded = await rollouts.get(rollout.id);
    expect(loaded).toMatchObject({ status: 'running', version: 2, state: running });
    expect(loaded!.updatedAt.getTime()).toBeGreaterThanOrEqual(rollout.updatedAt.getTime());
    expect(await rollouts.events(rollout.id)).toEqual([
      expect.objectContaining({ type: 'started', data: { n: 1 } }),
    ]);
  });

  it('saveDecision over a stale version throws a conflict and writes nothing', async () => {
    const { rollout } = await rollouts.insertRollout(newRollout());
    await rollouts.saveDecision({
      rolloutId: rollout.id,
      expectedVersion: 1,
      state: { ...rollout.state, status: 'running' },
    });
    const unsentBefore = await outbox.countUnsent();

    const stale = rollouts.saveDecision({
      rolloutId: rollout.id,
      expectedVersion: 1,
      state: { ...rollout.state, status: 'aborted' },
      audit: [{ at: 1, type: 'aborted', message: 'x' }],
      outbox: [{ topic: 't', key: null, payload: {} }],
    });
    await expect(stale).rejects.toBeInstanceOf(RolloutVersionConflictError);
    await expect(stale).rejects.toMatchObject({
      retriable: true,
      expectedVersion: 1,
      actualVersion: 2,
    });
    expect(await rollouts.get(rollout.id)).toMatchObject({ status: 'running', version: 2 });
    expect(await rollouts.events(rollout.id)).toEqual([]);
    expect(await outbox.countUnsent()).toBe(unsentBefore);
  });

  it('saveDecision of an unknown rollout throws not-found', async () => {
    const ghost = newRollout();
    await expect(
      rollouts.saveDecision({ rolloutId: ghost.id, expectedVersion: 1, state: ghost }),
    ).rejects.toBeInstanceOf(RolloutNotFoundError);
  });

  it('saveDecision inside a caller transaction rolls back with it', async () => {
    const { rollout } = await rollouts.insertRollout(newRollout());
    await expect(
      db.ds.transaction(async (m) => {
        await rollouts.saveDecision(
          {
            rolloutId: rollout.id,
            expectedVersion: 1,
            state: { ...rollout.state, status: 'running' },
          },
          m,
        );
        throw new Error('caller failed after saving');
      }),
    ).rejects.toThrow('caller failed after saving');
    expect(await rollouts.get(rollout.id)).toMatchObject({ status: 'pending', version: 1 });
  });

  it('lists newest first, filtered by status and cluster, page by page', async () => {
    const cluster = `list-${randomUUID().slice(0, 8)}`;
    const base = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { rollout } = await rollouts.insertRollout(newRollout(base + i, cluster, 'other'));
      ids.push(rollout.id);
    }
    await rollouts.saveDecision({
      rolloutId: ids[4],
      expectedVersion: 1,
      state: { ...(await rollouts.get(ids[4]))!.state, status: 'succeeded' },
    });

    const page1 = await rollouts.list({ cluster, limit: 2 });
    expect(page1.items.map((r) => r.id)).toEqual([ids[4], ids[3]]);
    const page2 = await rollouts.list({ cluster, limit: 2, cursor: page1.nextCursor });
    expect(page2.items.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    const page3 = await rollouts.list({ cluster, limit: 2, cursor: page2.nextCursor });
    expect(page3).toEqual({
      items: [expect.objectContaining({ id: ids[0] })],
      nextCursor: undefined,
    });

    expect((await rollouts.list({ cluster, status: 'succeeded' })).items.map((r) => r.id)).toEqual([
      ids[4],
    ]);
    expect((await rollouts.list({ cluster, status: ['pending', 'running'] })).items).toHaveLength(
      4,
    );
    expect((await rollouts.list({ cluster: 'no-such-cluster' })).items).toEqual([]);
    await expect(rollouts.list({ cursor: 'garbage' })).rejects.toBeInstanceOf(InvalidCursorError);

    const active = (await rollouts.listActive()).map((r) => r.id);
    expect(active).toEqual(expect.arrayContaining(ids.slice(0, 4)));
    expect(active).not.toContain(ids[4]);
  });

  it('get of a non-UUID id is simply not found', async () => {
    expect(await rollouts.get('not-a-uuid')).toBeNull();
    expect(await rollouts.events('not-a-uuid')).toEqual([]);
  });
});

describe('OutboxRepository', () => {
  const topic = () => `t-${randomUUID().slice(0, 8)}`;

  async function enqueue(n: number, t: string): Promise<string[]> {
    return db.ds.transaction((m) =>
      outbox.enqueue(
        m,
        Array.from({ length: n }, (_, i) => ({
          topic: t,
          key: `k${i % 3}`,
          payload: { i },
          headers: { h: String(i) },
        })),
      ),
    );
  }

  /** Drains everything claimable (other tests' rows too) so each test starts from a clean queue. */
  async function drain(): Promise<void> {
    for (;;) {
      const rows = await outbox.claimUnsent(500);
      if (rows.length === 0) return;
      await outbox.markSent(rows.map((r) => r.id));
    }
  }

  beforeEach(drain);

  it('claims in id order, with payload and headers, and marks sent', async () => {
    const t = topic();
    const ids = await enqueue(3, t);
    const claimed = await outbox.claimUnsent(10);
    expect(claimed.map((r) => r.id)).toEqual(ids);
    expect(claimed[1]).toMatchObject({
      topic: t,
      key: 'k1',
      payload: { i: 1 },
      headers: { h: '1' },
      attempts: 1,
    });
    expect(await outbox.claimUnsent(10)).toEqual([]); // claimed, not yet expired
    expect(await outbox.markSent(ids)).toBe(3);
    expect(await outbox.markSent(ids)).toBe(0);
    expect(await outbox.countUnsent()).toBe(0);
  });

  it('skips rows another transaction is claiming (SKIP LOCKED) instead of waiting or double-claiming', async () => {
    const ids = await enqueue(10, topic());
    const other = await db.openAnother();
    const otherOutbox = new OutboxRepository(other);
    const qr = db.ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    try {
      // A claims 5 inside an open transaction: its row locks are held until it ends.
      const a = await outbox.claimUnsent(5, { manager: qr.manager });
      expect(a.map((r) => r.id)).toEqual(ids.slice(0, 5));
      // B, another connection pool, gets the other 5 at once rather than blocking on A's locks.
      const b = await otherOutbox.claimUnsent(10);
      expect(b.map((r) => r.id)).toEqual(ids.slice(5));
      await qr.rollbackTransaction(); // A's claim never happened
    } finally {
      if (qr.isTransactionActive) await qr.rollbackTransaction();
      await qr.release();
    }
    expect((await otherOutbox.claimUnsent(10)).map((r) => r.id)).toEqual(ids.slice(0, 5));
  });

  it('hands each row to one of two relays claiming concurrently', async () => {
    const ids = await enqueue(300, topic());
    const other = new OutboxRepository(await db.openAnother());
    const seen: string[][] = [[], []];
    await Promise.all(
      [outbox, other].map(async (relay, i) => {
        for (;;) {
          const rows = await relay.claimUnsent(7);
          if (rows.length === 0) return;
          seen[i].push(...rows.map((r) => r.id));
          await relay.markSent(rows.map((r) => r.id));
        }
      }),
    );
    const all = [...seen[0], ...seen[1]];
    expect(all).toHaveLength(ids.length);
    expect(new Set(all)).toEqual(new Set(ids));
  });

  it('makes rows claimable again when a claim expires or is released', async () => {
    const ids = await enqueue(2, topic());
    expect(await outbox.claimUnsent(1, { claimMs: 1 })).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 20));
    const again = await outbox.claimUnsent(10, { claimMs: 60_000 });
    expect(again.map((r) => [r.id, r.attempts])).toEqual([
      [ids[0], 2],
      [ids[1], 1],
    ]);
    expect(await outbox.releaseClaim([ids[1]], 'broker down')).toBe(1);
    expect((await outbox.claimUnsent(10)).map((r) => r.id)).toEqual([ids[1]]);
  });
});

describe('LeaseRepository', () => {
  const T0 = new Date('2026-01-01T00:00:00Z').getTime();
  let leases: LeaseRepository;
  let other: DataSource;
  beforeAll(async () => {
    leases = new LeaseRepository(db.ds);
    other = await db.openAnother();
  });

  it('is held by one holder at a time, renewable, and taken over only after expiry', async () => {
    const name = `planner-${randomUUID().slice(0, 8)}`;
    const b = new LeaseRepository(other);

    const a1 = await leases.tryAcquire(name, 'a', 10_000, T0);
    expect(a1).toMatchObject({
      acquired: true,
      lease: { holder: 'a', token: '1', expiresAt: new Date(T0 + 10_000) },
    });
    expect(await b.tryAcquire(name, 'b', 10_000, T0 + 1_000)).toMatchObject({
      acquired: false,
      lease: { holder: 'a' },
    });

    // Renewal keeps the token and moves the expiry.
    expect(await leases.tryAcquire(name, 'a', 10_000, T0 + 5_000)).toMatchObject({
      acquired: true,
      lease: { token: '1', expiresAt: new Date(T0 + 15_000), acquiredAt: new Date(T0) },
    });
    expect(await b.tryAcquire(name, 'b', 10_000, T0 + 14_999)).toMatchObject({ acquired: false });

    // Expired: b takes it, the fencing token moves on, and a can't take it back.
    expect(await b.tryAcquire(name, 'b', 10_000, T0 + 15_000)).toMatchObject({
      acquired: true,
      lease: { holder: 'b', token: '2' },
    });
    expect(await leases.tryAcquire(name, 'a', 10_000, T0 + 16_000)).toMatchObject({
      acquired: false,
      lease: { holder: 'b' },
    });

    // Release hands it over at once.
    expect(await leases.release(name, 'a')).toBe(false);
    expect(await b.release(name, 'b')).toBe(true);
    expect(await leases.tryAcquire(name, 'a', 10_000, T0 + 17_000)).toMatchObject({
      acquired: true,
      lease: { holder: 'a', token: '3' },
    });
  });

  it('gives a free lease to exactly one of many concurrent contenders (database clock)', async () => {
    const name = `race-${randomUUID().slice(0, 8)}`;
    const repos = [leases, new LeaseRepository(other)];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => repos[i % 2].tryAcquire(name, `holder-${i}`, 60_000)),
    );
    const winners = results.filter((r) => r.acquired);
    expect(winners).toHaveLength(1);
    const holder = winners[0].lease!.holder;
    for (const r of results) expect(r.lease?.holder).toBe(holder);
  });
});
