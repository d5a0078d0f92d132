/**
 * The transactional outbox. Writers enqueue messages in the transaction that changes state
 * (RolloutRepository.saveDecision does); the relay (the planner's leader) claims unsent rows,
 * sends them to Kafka in id order, and marks them sent.
 *
 * Claiming sets `claimed_until` instead of holding row locks across the Kafka send: the claim
 * itself is an UPDATE over `SELECT ... FOR UPDATE SKIP LOCKED`, so two relays claiming at the
 * same moment get disjoint rows, and a relay that dies mid-send leaves rows that become
 * claimable again when the claim expires. Delivery is at least once: consumers de-duplicate
 * (command ids, request ids).
 *
 * Order: rows are claimed and returned in id order. A relay should send them in that order and
 * stop at the first failure, releasing the rest (releaseClaim), so a key's messages never
 * overtake each other.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { runSql } from './query.helper';

export interface OutboxMessage {
  topic: string;
  /** Kafka key (e.g. the cluster for rollout.commands); null for none. */
  key: string | null;
  /** The message value (JSON), e.g. a CommandMessage. */
  payload: unknown;
  headers?: Record<string, string>;
}

export interface OutboxRecord {
  id: string;
  topic: string;
  key: string | null;
  payload: unknown;
  headers: Record<string, string> | null;
  createdAt: Date;
  /** Claims so far, this one included. */
  attempts: number;
}

export interface ClaimOptions {
  /** How long the claim holds before other relays may take the rows (default 30 s). */
  claimMs?: number;
  /** Run inside this transaction (the claim's row locks last until it ends). */
  manager?: EntityManager;
}

/** Rows per INSERT: keeps a big decision well under Postgres's 65535 bind parameters. */
const INSERT_CHUNK = 1000;

interface OutboxRow {
  id: string;
  topic: string;
  key: string | null;
  payload: unknown;
  headers: Record<string, string> | null;
  created_at: Date;
  attempts: number;
}

export class OutboxRepository {
  constructor(private readonly ds: DataSource) {}

  /** Adds messages in the caller's transaction. Returns their ids, in order. */
  async enqueue(manager: EntityManager, messages: readonly OutboxMessage[]): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < messages.length; i += INSERT_CHUNK) {
      const chunk = messages.slice(i, i + INSERT_CHUNK);
      const params: unknown[] = [];
      const values = chunk.map((m) => {
        params.push(
          m.topic,
          m.key,
          JSON.stringify(m.payload),
          m.headers ? JSON.stringify(m.headers) : null,
        );
        const n = params.length;
        return `($${n - 3}, $${n - 2}, $${n - 1}::jsonb, $${n}::jsonb)`;
      });
      const { rows } = await runSql<{ id: string }>(
        manager,
        `INSERT INTO outbox (topic, key, payload, headers) VALUES ${values.join(', ')} RETURNING id`,
        params,
      );
      ids.push(...rows.map((r) => r.id).sort(byId));
    }
    return ids;
  }

  /**
   * Claims up to `limit` unsent, unclaimed (or claim-expired) rows, oldest first. Rows another
   * transaction is claiming right now are skipped, not waited for (SKIP LOCKED).
   */
  async claimUnsent(limit: number, options: ClaimOptions = {}): Promise<OutboxRecord[]> {
    const { rows } = await runSql<OutboxRow>(
      options.manager ?? this.ds.manager,
      `WITH c AS (
         SELECT id FROM outbox
          WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
          ORDER BY id
          LIMIT $1
          FOR UPDATE SKIP LOCKED
       )
       UPDATE outbox o
          SET claimed_until = clock_timestamp() + ($2 * interval '1 millisecond'), attempts = o.attempts + 1
         FROM c
        WHERE o.id = c.id
       RETURNING o.id, o.topic, o.key, o.payload, o.headers, o.created_at, o.attempts`,
      [limit, options.claimMs ?? 30_000],
    );
    return rows.sort((a, b) => byId(a.id, b.id)).map(toRecord);
  }

  /** The rows reached Kafka. Returns how many were marked (already-sent rows are left alone). */
  async markSent(
    ids: readonly string[],
    manager: EntityManager = this.ds.manager,
  ): Promise<number> {
    if (ids.length === 0) return 0;
    const { affected } = await runSql(
      manager,
      `UPDATE outbox SET sent_at = clock_timestamp(), claimed_until = NULL
        WHERE id = ANY($1::bigint[]) AND sent_at IS NULL`,
      [ids],
    );
    return affected;
  }

  /** Sending failed: give the rows back now (not at claim expiry) and keep the error for operators. */
  async releaseClaim(ids: readonly string[], error?: string): Promise<number> {
    if (ids.length === 0) return 0;
    const { affected } = await runSql(
      this.ds.manager,
      `UPDATE outbox SET claimed_until = NULL, last_error = COALESCE($2, last_error)
        WHERE id = ANY($1::bigint[]) AND sent_at IS NULL`,
      [ids, error?.slice(0, 4096) ?? null],
    );
    return affected;
  }

  /** Unsent rows (a health and metrics signal: a growing number means the relay is stuck). */
  async countUnsent(): Promise<number> {
    const { rows } = await runSql<{ n: string }>(
      this.ds.manager,
      `SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL`,
    );
    return Number(rows[0].n);
  }

  /** Deletes rows sent before `before` (housekeeping). Returns how many. */
  async purgeSent(before: Date): Promise<number> {
    const { affected } = await runSql(this.ds.manager, `DELETE FROM outbox WHERE sent_at < $1`, [
      before,
    ]);
    return affected;
  }
}

function byId(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

function toRecord(r: OutboxRow): OutboxRecord {
  return {
    id: r.id,
    topic: r.topic,
    key: r.key,
    payload: r.payload,
    headers: r.headers,
    createdAt: r.created_at,
    attempts: r.attempts,
  };
}
