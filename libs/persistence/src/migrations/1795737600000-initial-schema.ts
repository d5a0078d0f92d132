/**
 * The first schema: rollouts (+ their targets and audit trail), the outbox, leases.
 * Hand-written SQL, run by TypeORM at startup (`migrationsRun`); `synchronize` is never on.
 * Unqualified names: tables land in the connection's search_path schema (DATABASE_SCHEMA).
 * The entities declare the same names for every constraint and index, so TypeORM's schema diff
 * against this migration is empty (checked by persistence.int-spec.ts).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795737600000 implements MigrationInterface {
  name = 'InitialSchema1795737600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rollouts (
        id uuid NOT NULL,
        status text NOT NULL,
        spec jsonb NOT NULL,
        state jsonb NOT NULL,
        reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        version integer NOT NULL DEFAULT 1,
        idempotency_key text,
        request_id text,
        requested_by text,
        CONSTRAINT rollouts_pkey PRIMARY KEY (id),
        CONSTRAINT rollouts_idempotency_key_uq UNIQUE (idempotency_key),
        CONSTRAINT rollouts_request_id_uq UNIQUE (request_id),
        CONSTRAINT rollouts_status_check
          CHECK (status IN ('pending', 'running', 'paused', 'blocked', 'succeeded', 'failed', 'aborted'))
      )`);
    // listActive() filters on status; list() pages by (created_at, id), newest first.
    await q.query(`CREATE INDEX rollouts_status_idx ON rollouts (status)`);
    await q.query(`CREATE INDEX rollouts_created_idx ON rollouts (created_at, id)`);

    await q.query(`
      CREATE TABLE rollout_targets (
        rollout_id uuid NOT NULL,
        cluster text NOT NULL,
        namespace text NOT NULL,
        CONSTRAINT rollout_targets_pkey PRIMARY KEY (rollout_id, cluster, namespace),
        CONSTRAINT rollout_targets_rollout_fk FOREIGN KEY (rollout_id) REFERENCES rollouts (id) ON DELETE CASCADE
      )`);
    await q.query(
      `CREATE INDEX rollout_targets_cluster_idx ON rollout_targets (cluster, namespace)`,
    );

    await q.query(`
      CREATE TABLE rollout_events (
        id bigserial NOT NULL,
        rollout_id uuid NOT NULL,
        at timestamptz NOT NULL,
        type text NOT NULL,
        message text NOT NULL,
        data jsonb,
        CONSTRAINT rollout_events_pkey PRIMARY KEY (id),
        CONSTRAINT rollout_events_rollout_fk FOREIGN KEY (rollout_id) REFERENCES rollouts (id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX rollout_events_rollout_idx ON rollout_events (rollout_id, id)`);

    await q.query(`
      CREATE TABLE outbox (
        id bigserial NOT NULL,
        topic text NOT NULL,
        key text,
        payload jsonb NOT NULL,
        headers jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        claimed_until timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        CONSTRAINT outbox_pkey PRIMARY KEY (id)
      )`);
    // The relay only ever looks at unsent rows, oldest first: a partial index stays small.
    await q.query(`CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL`);

    await q.query(`
      CREATE TABLE leases (
        name text NOT NULL,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL,
        token bigint NOT NULL DEFAULT 1,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT leases_pkey PRIMARY KEY (name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE leases`);
    await q.query(`DROP TABLE outbox`);
    await q.query(`DROP TABLE rollout_events`);
    await q.query(`DROP TABLE rollout_targets`);
    await q.query(`DROP TABLE rollouts`);
  }
}
