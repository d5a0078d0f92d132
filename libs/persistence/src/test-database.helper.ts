/**
 * For integration tests (this lib's and the apps'): each suite gets its own schema in the test
 * database, with migrations applied, and drops it afterwards. Suites never see each other's
 * rows, so they can run in parallel and leave nothing behind.
 *
 * Database: TEST_DATABASE_URL, else DATABASE_URL, else the local one scripts/infra.sh starts.
 */
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { openDataSource } from './data-source.factory';
import type { PersistenceConfig } from './persistence.config';

export const DEFAULT_TEST_DATABASE_URL =
  'postgres://ringmaster:ringmaster@127.0.0.1:15432/ringmaster_test';

export function testDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.TEST_DATABASE_URL || env.DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
}

export interface TestDatabase {
  ds: DataSource;
  schema: string;
  config: PersistenceConfig;
  /** Another DataSource on the same schema (a second "process", e.g. a competing relay). */
  openAnother(): Promise<DataSource>;
  /** Closes every DataSource opened here and drops the schema. */
  drop(): Promise<void>;
}

export async function openTestDatabase(prefix = 'rm_test'): Promise<TestDatabase> {
  const schema = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const config: PersistenceConfig = { url: testDatabaseUrl(), ssl: false, schema, poolSize: 4 };
  const opened: DataSource[] = [];
  const ds = await openDataSource(config, { applicationName: `ringmaster-test-${schema}` });
  opened.push(ds);
  return {
    ds,
    schema,
    config,
    async openAnother() {
      const other = await openDataSource(config, { applicationName: `ringmaster-test-${schema}` });
      opened.push(other);
      return other;
    },
    async drop() {
      for (const d of opened) if (d.isInitialized) await d.destroy();
      const admin = new DataSource({ type: 'postgres', url: config.url, poolSize: 1 });
      await admin.initialize();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await admin.destroy();
      }
    },
  };
}
