/**
 * Opens the planner's database at start-up, waiting out a Postgres that is restarting or not
 * up yet (connection refused, "the database system is starting up") with the same backoff as
 * the Kafka start-up steps, instead of exiting: a planner restarted during a database restart
 * used to die with `failed to start: connect ECONNREFUSED` (found by the chaos lane: planner
 * SIGKILLed and started again while Postgres and Kafka were down). A wrong password or a
 * missing database is not transient and still ends the start at once.
 */
import type { DataSource } from 'typeorm';
import { retryTransient, type RetryOptions } from '@ringmaster/messaging';
import {
  openDataSource,
  type DataSourceOptions,
  type PersistenceConfig,
} from '@ringmaster/persistence';

export async function connectDatabase(
  config: PersistenceConfig,
  options: DataSourceOptions,
  retry: Omit<RetryOptions, 'what'> = {},
  open: typeof openDataSource = openDataSource,
): Promise<DataSource> {
  return retryTransient(() => open(config, options), {
    what: 'connecting to Postgres',
    ...retry,
  });
}
