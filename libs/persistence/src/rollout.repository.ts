/**
 * Rollouts as the planner reads and writes them. The planner's loop per input is: load the
 * rollout (get), call decide(), then saveDecision: the new state, its audit entries and the
 * commands to send (as outbox rows) in ONE transaction, written only over the version the
 * decision was based on. So a decision is either wholly recorded or not at all, and two
 * writers can't interleave on one rollout (the loser gets RolloutVersionConflictError, a
 * retriable error: reload and decide again).
 */
import type { DataSource, EntityManager } from 'typeorm';
import type {
  AuditEntry,
  RolloutSpec,
  RolloutState,
  RolloutStatus,
  TargetRef,
} from '@ringmaster/rollout-core';
import { ACTIVE_ROLLOUT_STATUSES } from './rollout.entity';
import { type OutboxMessage, OutboxRepository } from './outbox.repository';
import {
  InvalidCursorError,
  RolloutNotFoundError,
  RolloutVersionConflictError,
  TargetBusyError,
} from './persistence.errors';
import { runSql } from './query.helper';

export interface RolloutRecord {
  id: string;
  status: RolloutStatus;
  spec: RolloutSpec;
  state: RolloutState;
  reason: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** Pass it back to saveDecision as `expectedVersion`. */
  version: number;
  idempotencyKey: string | null;
  requestId: string | null;
  requestedBy: string | null;
  /** The spec's targets, in roll order as requested. */
  targets: TargetRef[];
}

/** An audit entry as decide() returns it, optionally with structured detail. */
export type AuditRecordInput = AuditEntry & { data?: unknown };

export interface RolloutEventRecord {
  id: string;
  rolloutId: string;
  at: Date;
  type: string;
  message: string;
  data: unknown;
}

export interface InsertRolloutOptions {
  /** `Idempotency-Key` of a REST request: a second insert with the same key returns the first rollout. */
  idempotencyKey?: string;
  /** `requestId` of a rollout.requests event: same idempotency, for events. */
  requestId?: string;
  requestedBy?: string;
  /**
   * One active rollout per target: refuse (TargetBusyError) while another rollout that is not
   * over yet holds one of the targets. Checked under a per-target lock in the insert's own
   * transaction, so concurrent requests for one target (on any planner instance) create one.
   */
  exclusiveTargets?: boolean;
  /** Written with the rollout, in the same transaction (e.g. "created by ci"). */
  audit?: readonly AuditRecordInput[];
  outbox?: readonly OutboxMessage[];
}

export interface InsertRolloutResult {
  /** false: an existing rollout matched (idempotent replay); nothing was written. */
  created: boolean;
  rollout: RolloutRecord;
  /** Which unique key matched, when created is false. */
  matchedOn?: 'idempotency_key' | 'request_id' | 'id';
}

export interface SaveDecisionInput {
  rolloutId: string;
  /** The version the decision was based on (RolloutRecord.version as loaded). */
  expectedVersion: number;
  state: RolloutState;
  audit?: readonly AuditRecordInput[];
  outbox?: readonly OutboxMessage[];
}

export interface SavedDecision {
  version: number;
  outboxIds: string[];
}

export interface ListRolloutsFilter {
  status?: RolloutStatus | readonly RolloutStatus[];
  /** Only rollouts with a target in this cluster. */
  cluster?: string;
  /** 1..500, default 50. */
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
}

export interface RolloutPage {
  items: RolloutRecord[];
  /** Present when there may be more: pass it as `cursor` for the next page. */
  nextCursor?: string;
}

interface RolloutRow {
  id: string;
  status: RolloutStatus;
  spec: RolloutSpec;
  state: RolloutState;
  reason: string | null;
  created_at: Date;
  updated_at: Date;
  version: number;
  idempotency_key: string | null;
  request_id: string | null;
  requested_by: string | null;
  /** Exact created_at for list cursors (a JS Date would drop the microseconds). */
  created_at_text?: string;
}

/** created_at::text, e.g. `2026-11-27 09:00:00.123+00`. */
const PG_TIMESTAMPTZ = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COLUMNS = `r.id, r.status, r.spec, r.state, r.reason, r.created_at, r.updated_at, r.version,
  r.idempotency_key, r.request_id, r.requested_by`;

export class RolloutRepository {
  private readonly outbox: OutboxRepository;

  constructor(private readonly ds: DataSource) {
    this.outbox = new OutboxRepository(ds);
  }

  /**
   * Inserts a new rollout (version 1) with its targets, audit entries and outbox rows. If a
   * rollout with the same idempotency key, request id or id exists, writes nothing and returns
   * that one (`created: false`); concurrent inserts with one key create exactly one rollout.
   * With `exclusiveTargets`, a target held by an active rollout refuses the insert (a replay of
   * that very request still returns it).
   */
  async insertRollout(
    state: RolloutState,
    options: InsertRolloutOptions = {},
  ): Promise<InsertRolloutResult> {
    return this.ds.transaction(async (m) => {
      if (options.exclusiveTargets) {
        await this.lockTargets(m, state.spec.targets);
        // Under the locks: a retry of the request that holds the target is a replay, not a clash.
        const existing = await this.findConflicting(m, state.id, options);
        if (existing)
          return { created: false, rollout: toRecord(existing.row), matchedOn: existing.on };
        const holders = await this.activeHolders(m, state.spec.targets);
        if (holders.length > 0) throw new TargetBusyError(holders);
      }
      const { rows } = await runSql<RolloutRow>(
        m,
        `INSERT INTO rollouts AS r (id, status, spec, state, reason, created_at, updated_at, version,
                                    idempotency_key, request_id, requested_by)
         VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $6, 1, $7, $8, $9)
         ON CONFLICT DO NOTHING
         RETURNING ${COLUMNS}`,
        [
          state.id,
          state.status,
          JSON.stringify(state.spec),
          JSON.stringify(state),
          state.reason ?? null,
          new Date(state.createdAt),
          options.idempotencyKey ?? null,
          options.requestId ?? null,
          options.requestedBy ?? null,
        ],
      );
      if (rows.length === 0) {
        const existing = await this.findConflicting(m, state.id, options);
        if (!existing)
          throw new Error(
            `rollout ${state.id}: insert conflicted but no matching rollout was found`,
          );
        return { created: false, rollout: toRecord(existing.row), matchedOn: existing.on };
      }
      const targets = uniqueTargets(state.spec.targets);
      if (targets.length > 0) {
        const params: unknown[] = [state.id];
        const values = targets.map((t) => {
          params.push(t.cluster, t.namespace);
          return `($1, $${params.length - 1}, $${params.length})`;
        });
        await runSql(
          m,
          `INSERT INTO rollout_targets (rollout_id, cluster, namespace) VALUES ${values.join(', ')}`,
          params,
        );
      }
      await this.appendEvents(state.id, options.audit ?? [], m);
      await this.outbox.enqueue(m, options.outbox ?? []);
      return { created: true, rollout: toRecord(rows[0]) };
    });
  }

  /**
   * Records a decision atomically: state (and its status/reason columns) written only if the
   * row is still at `expectedVersion`, then the audit entries and outbox rows. Throws
   * RolloutVersionConflictError (retriable) when someone wrote first, RolloutNotFoundError when
   * the rollout is gone. With `manager`, runs inside the caller's transaction (as a savepoint).
   */
  async saveDecision(input: SaveDecisionInput, manager?: EntityManager): Promise<SavedDecision> {
    const { rolloutId, expectedVersion, state } = input;
    if (state.id !== rolloutId)
      throw new Error(`saveDecision: state.id ${state.id} is not rollout ${rolloutId}`);
    const run = async (m: EntityManager): Promise<SavedDecision> => {
      const { rows } = await runSql<{ version: number }>(
        m,
        `UPDATE rollouts SET status = $3, state = $4::jsonb, reason = $5, version = version + 1,
                             updated_at = clock_timestamp()
          WHERE id = $1 AND version = $2
          RETURNING version`,
        [rolloutId, expectedVersion, state.status, JSON.stringify(state), state.reason ?? null],
      );
      if (rows.length === 0) {
        const current = await runSql<{ version: number }>(
          m,
          `SELECT version FROM rollouts WHERE id = $1`,
          [rolloutId],
        );
        if (current.rows.length === 0) throw new RolloutNotFoundError(rolloutId);
        throw new RolloutVersionConflictError(rolloutId, expectedVersion, current.rows[0].version);
      }
      await this.appendEvents(rolloutId, input.audit ?? [], m);
      const outboxIds = await this.outbox.enqueue(m, input.outbox ?? []);
      return { version: rows[0].version, outboxIds };
    };
    return manager ? manager.transaction(run) : this.ds.transaction(run);
  }

  /**
   * Transaction-scoped advisory locks, one per target (keyed by schema and target, taken in one
   * order so two inserts never wait on each other crosswise): inserts touching a target take
   * turns, and each sees what the previous one committed (READ COMMITTED: a fresh snapshot per
   * statement).
   */
  private async lockTargets(m: EntityManager, targets: readonly TargetRef[]): Promise<void> {
    const keys = uniqueTargets(targets).map((t) => `${t.cluster}/${t.namespace}`);
    await runSql(
      m,
      `SELECT pg_advisory_xact_lock(k.h)
         FROM (SELECT DISTINCT hashtextextended(current_schema() || '|rollout-target|' || t, 0) AS h
                 FROM unnest($1::text[]) AS t
                ORDER BY 1) AS k`,
      [keys],
    );
  }

  /** Active rollouts holding any of `targets`. */
  private async activeHolders(
    m: EntityManager,
    targets: readonly TargetRef[],
  ): Promise<{ target: string; rolloutId: string; status: string }[]> {
    const ts = uniqueTargets(targets);
    const { rows } = await runSql<{
      cluster: string;
      namespace: string;
      id: string;
      status: string;
    }>(
      m,
      `SELECT t.cluster, t.namespace, r.id, r.status
         FROM rollout_targets t JOIN rollouts r ON r.id = t.rollout_id
        WHERE r.status = ANY($1::text[])
          AND (t.cluster, t.namespace) IN (SELECT * FROM unnest($2::text[], $3::text[]))
        ORDER BY t.cluster, t.namespace, r.created_at`,
      [[...ACTIVE_ROLLOUT_STATUSES], ts.map((t) => t.cluster), ts.map((t) => t.namespace)],
    );
    return rows.map((r) => ({
      target: `${r.cluster}/${r.namespace}`,
      rolloutId: r.id,
      status: r.status,
    }));
  }

  /** Appends audit entries (in `manager`'s transaction when given). */
  async appendEvents(
    rolloutId: string,
    entries: readonly AuditRecordInput[],
    manager: EntityManager = this.ds.manager,
  ): Promise<void> {
    for (let i = 0; i < entries.length; i += 1000) {
      const params: unknown[] = [rolloutId];
      const values = entries.slice(i, i + 1000).map((e) => {
        params.push(
          new Date(e.at),
          e.type,
          e.message,
          e.data === undefined ? null : JSON.stringify(e.data),
        );
        const n = params.length;
        return `($1, $${n - 3}, $${n - 2}, $${n - 1}, $${n}::jsonb)`;
      });
      await runSql(
        manager,
        `INSERT INTO rollout_events (rollout_id, at, type, message, data) VALUES ${values.join(', ')}`,
        params,
      );
    }
  }

  /** The rollout, or null when there is none (an id that isn't a UUID is simply not found). */
  async get(id: string, manager: EntityManager = this.ds.manager): Promise<RolloutRecord | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await runSql<RolloutRow>(
      manager,
      `SELECT ${COLUMNS} FROM rollouts r WHERE r.id = $1`,
      [id],
    );
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** The rollout an Idempotency-Key or requestId already created, if any (retries find it before planning). */
  async findByKeys(
    keys: Pick<InsertRolloutOptions, 'idempotencyKey' | 'requestId'>,
  ): Promise<RolloutRecord | null> {
    if (keys.idempotencyKey === undefined && keys.requestId === undefined) return null;
    const found = await this.findConflicting(this.ds.manager, '', { ...keys });
    return found && found.on !== 'id' ? toRecord(found.row) : null;
  }

  /** Newest first, keyset-paged (stable under concurrent inserts). */
  async list(filter: ListRolloutsFilter = {}): Promise<RolloutPage> {
    const limit = Math.min(Math.max(Math.trunc(filter.limit ?? 50), 1), 500);
    const statuses =
      filter.status === undefined
        ? null
        : typeof filter.status === 'string'
          ? [filter.status]
          : [...filter.status];
    const after = filter.cursor === undefined ? null : decodeCursor(filter.cursor);
    const { rows } = await runSql<RolloutRow>(
      this.ds.manager,
      `SELECT ${COLUMNS}, r.created_at::text AS created_at_text
         FROM rollouts r
        WHERE ($1::text[] IS NULL OR r.status = ANY($1::text[]))
          AND ($2::text IS NULL OR EXISTS (
                SELECT 1 FROM rollout_targets t WHERE t.rollout_id = r.id AND t.cluster = $2::text))
          AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3::timestamptz, $4::uuid))
        ORDER BY r.created_at DESC, r.id DESC
        LIMIT $5`,
      [statuses, filter.cluster ?? null, after?.createdAt ?? null, after?.id ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(toRecord),
      nextCursor:
        rows.length > limit && last ? encodeCursor(last.created_at_text!, last.id) : undefined,
    };
  }

  /** Rollouts the planner still drives (pending, running, paused, blocked), oldest first. */
  async listActive(): Promise<RolloutRecord[]> {
    const { rows } = await runSql<RolloutRow>(
      this.ds.manager,
      `SELECT ${COLUMNS} FROM rollouts r WHERE r.status = ANY($1::text[]) ORDER BY r.created_at, r.id`,
      [[...ACTIVE_ROLLOUT_STATUSES]],
    );
    return rows.map(toRecord);
  }

  /** The audit trail, oldest first; `afterId` continues from a previous page. */
  async events(
    id: string,
    options: { afterId?: string; limit?: number } = {},
  ): Promise<RolloutEventRecord[]> {
    if (!UUID.test(id)) return [];
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 1000), 1), 10_000);
    const { rows } = await runSql<{
      id: string;
      rollout_id: string;
      at: Date;
      type: string;
      message: string;
      data: unknown;
    }>(
      this.ds.manager,
      `SELECT id, rollout_id, at, type, message, data FROM rollout_events
        WHERE rollout_id = $1 AND ($2::bigint IS NULL OR id > $2::bigint)
        ORDER BY id LIMIT $3`,
      [id, options.afterId ?? null, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      rolloutId: r.rollout_id,
      at: r.at,
      type: r.type,
      message: r.message,
      data: r.data,
    }));
  }

  private async findConflicting(
    m: EntityManager,
    id: string,
    options: InsertRolloutOptions,
  ): Promise<{ row: RolloutRow; on: 'idempotency_key' | 'request_id' | 'id' } | undefined> {
    const checks: ['idempotency_key' | 'request_id' | 'id', string | undefined][] = [
      ['idempotency_key', options.idempotencyKey],
      ['request_id', options.requestId],
      ['id', id || undefined],
    ];
    for (const [column, value] of checks) {
      if (value === undefined) continue;
      const { rows } = await runSql<RolloutRow>(
        m,
        `SELECT ${COLUMNS} FROM rollouts r WHERE r.${column} = $1`,
        [value],
      );
      if (rows.length) return { row: rows[0], on: column };
    }
    return undefined;
  }
}

function toRecord(r: RolloutRow): RolloutRecord {
  return {
    id: r.id,
    status: r.status,
    spec: r.spec,
    state: r.state,
    reason: r.reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    version: r.version,
    idempotencyKey: r.idempotency_key,
    requestId: r.request_id,
    requestedBy: r.requested_by,
    targets: r.spec.targets,
  };
}

function uniqueTargets(targets: readonly TargetRef[]): TargetRef[] {
  const seen = new Map<string, TargetRef>();
  for (const t of targets) seen.set(`${t.cluster}/${t.namespace}`, t);
  return [...seen.values()];
}

/** Opaque to callers: base64url of [created_at as Postgres prints it, id]. */
/** Exported for its unit test. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), 'utf8').toString('base64url');
}

/**
 * The shape alone let `2026-99-99 99:99:99+00` through to Postgres, which refused it
 * ("date/time field value out of range") and the list answered 500 instead of 400.
 */
function onTheCalendar(ts: string): boolean {
  const m = /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)(?:\.\d+)?[+-](\d+)/.exec(ts);
  if (!m) return false;
  const [y, mo, d, h, mi, se, oh] = m.slice(1).map(Number);
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return (
    t.getUTCFullYear() === y &&
    t.getUTCMonth() === mo - 1 &&
    t.getUTCDate() === d &&
    t.getUTCHours() === h &&
    t.getUTCMinutes() === mi &&
    t.getUTCSeconds() === se &&
    oh <= 15
  );
}

/** Exported for its unit test. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      UUID.test(v[1]) &&
      PG_TIMESTAMPTZ.test(v[0]) &&
      onTheCalendar(v[0])
    ) {
      return { createdAt: v[0], id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new InvalidCursorError(cursor);
}
