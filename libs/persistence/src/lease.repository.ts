/**
 * Named leases in Postgres, for planner leadership: the planner that holds `planner` decides
 * and relays the outbox; the others wait. A holder renews well before expiry (e.g. every ttl/3)
 * and stops acting the moment a renewal fails or its lease has expired by its own clock.
 *
 * tryAcquire is one atomic upsert: take the lease if it is free, expired, or already ours
 * (renewal). Time comes from Postgres by default, one clock for every contender, so clock skew
 * between planner hosts can't hand the lease to two of them; tests pass `now` to control it.
 * `token` (a fencing token) grows whenever the lease changes hands.
 */
import type { DataSource } from 'typeorm';
import { runSql } from './query.helper';

export interface Lease {
  name: string;
  holder: string;
  expiresAt: Date;
  /** Grows by one each time the lease changes hands; renewals keep it. */
  token: string;
  /** When the current holder first took it (renewals keep it). */
  acquiredAt: Date;
}

export type AcquireResult =
  | { acquired: true; lease: Lease }
  /** `lease`: who holds it now (null if it vanished in between, e.g. deleted by hand). */
  | { acquired: false; lease: Lease | null };

interface LeaseRow {
  name: string;
  holder: string;
  expires_at: Date;
  token: string;
  acquired_at: Date;
}

export class LeaseRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Takes or renews `name` for `holder` until now + ttlMs. `now` defaults to the database's
   * clock (recommended outside tests).
   */
  async tryAcquire(
    name: string,
    holder: string,
    ttlMs: number,
    now?: Date | number,
  ): Promise<AcquireResult> {
    if (!(ttlMs > 0)) throw new Error(`tryAcquire: ttlMs must be positive (got ${ttlMs})`);
    const at = now === undefined ? null : new Date(now);
    const { rows } = await runSql<LeaseRow>(
      this.ds.manager,
      `WITH t AS (SELECT COALESCE($3::timestamptz, clock_timestamp()) AS now)
       INSERT INTO leases AS l (name, holder, expires_at, token, acquired_at)
       SELECT $1, $2, t.now + ($4 * interval '1 millisecond'), 1, t.now FROM t
       ON CONFLICT (name) DO UPDATE
          SET holder = EXCLUDED.holder,
              expires_at = EXCLUDED.expires_at,
              token = CASE WHEN l.holder = EXCLUDED.holder THEN l.token ELSE l.token + 1 END,
              acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE EXCLUDED.acquired_at END
        WHERE l.holder = EXCLUDED.holder OR l.expires_at <= EXCLUDED.acquired_at
       RETURNING l.name, l.holder, l.expires_at, l.token, l.acquired_at`,
      [name, holder, at, ttlMs],
    );
    if (rows.length) return { acquired: true, lease: toLease(rows[0]) };
    return { acquired: false, lease: await this.get(name) };
  }

  /** Gives the lease up (it expires now, so the next contender needn't wait). True if we held it. */
  async release(name: string, holder: string): Promise<boolean> {
    const { affected } = await runSql(
      this.ds.manager,
      `UPDATE leases SET expires_at = to_timestamp(0) WHERE name = $1 AND holder = $2 AND expires_at > to_timestamp(0)`,
      [name, holder],
    );
    return affected > 0;
  }

  async get(name: string): Promise<Lease | null> {
    const { rows } = await runSql<LeaseRow>(
      this.ds.manager,
      `SELECT name, holder, expires_at, token, acquired_at FROM leases WHERE name = $1`,
      [name],
    );
    return rows.length ? toLease(rows[0]) : null;
  }
}

function toLease(r: LeaseRow): Lease {
  return {
    name: r.name,
    holder: r.holder,
    expiresAt: r.expires_at,
    token: String(r.token),
    acquiredAt: r.acquired_at,
  };
}
