/**
 * The TypeORM DataSource for Ringmaster's Postgres. Migrations run at startup
 * (`migrationsRun`), all in one transaction; `synchronize` is never on: the schema changes only
 * through reviewed migrations.
 *
 * Use openDataSource() in services and tests: it creates DATABASE_SCHEMA if needed and
 * serializes concurrent startups (two planner replicas starting together would otherwise race
 * through the same migration) with a Postgres advisory lock.
 */
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';
import type { PersistenceConfig } from './persistence.config';

export interface DataSourceOptions {
  /** Shown in pg_stat_activity (e.g. `ringmaster-planner`). */
  applicationName?: string;
  /** Log every SQL statement (debugging only). */
  logSql?: boolean;
}

export function createDataSource(
  config: PersistenceConfig,
  options: DataSourceOptions = {},
): DataSource {
  return new DataSource({
    type: 'postgres',
    url: config.url,
    ssl: config.ssl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: true,
    migrationsTransactionMode: 'all',
    synchronize: false,
    poolSize: config.poolSize,
    applicationName: options.applicationName ?? 'ringmaster',
    logging: options.logSql ? 'all' : ['error'],
    // Unqualified names everywhere (entities and the migration's SQL) resolve through the
    // search_path, so DATABASE_SCHEMA moves every table at once.
    extra: config.schema ? { options: `-c search_path=${config.schema}` } : {},
  });
}

/**
 * Creates the schema if needed, then initializes the DataSource (which runs pending
 * migrations) while holding an advisory lock, so concurrent startups migrate one at a time.
 */
export async function openDataSource(
  config: PersistenceConfig,
  options: DataSourceOptions = {},
): Promise<DataSource> {
  const bootstrap = new DataSource({
    type: 'postgres',
    url: config.url,
    ssl: config.ssl,
    poolSize: 1,
  });
  await bootstrap.initialize();
  const lockKey = `ringmaster.migrations:${config.schema ?? ''}`;
  try {
    await bootstrap.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    try {
      if (config.schema) await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS "${config.schema}"`);
      const ds = createDataSource(config, options);
      try {
        await ds.initialize();
      } catch (e) {
        if (ds.isInitialized) await ds.destroy().catch(() => undefined);
        throw e;
      }
      return ds;
    } finally {
      await bootstrap
        .query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey])
        .catch(() => undefined);
    }
  } finally {
    await bootstrap.destroy();
  }
}
