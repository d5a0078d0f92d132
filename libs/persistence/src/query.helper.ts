import type { EntityManager } from 'typeorm';

/**
 * Raw SQL with rows and affected-row count, the same for SELECT, INSERT/UPDATE ... RETURNING
 * and DELETE (EntityManager.query's result shape differs by statement kind on Postgres).
 * Uses the manager's query runner when it has one (inside a transaction), else a pooled one.
 */
export async function runSql<T>(
  manager: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<{ rows: T[]; affected: number }> {
  const own = manager.queryRunner ? undefined : manager.connection.createQueryRunner();
  const runner = manager.queryRunner ?? own!;
  try {
    const r = await runner.query(sql, params, true);
    return { rows: (r.records ?? []) as T[], affected: r.affected ?? 0 };
  } finally {
    if (own) await own.release();
  }
}
