/** Ringmaster's Postgres: config, DataSource (migrations at startup), entities, repositories. */
export * from './persistence.config';
export * from './data-source.factory';
export * from './persistence.errors';
export * from './rollout.entity';
export * from './rollout-target.entity';
export * from './rollout-event.entity';
export * from './outbox.entity';
export * from './lease.entity';
export { ENTITIES } from './entities';
export { MIGRATIONS } from './migrations';
export * from './rollout.repository';
export * from './outbox.repository';
export * from './lease.repository';
export * from './test-database.helper';
