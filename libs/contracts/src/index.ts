/** Ringmaster's contracts: topics, versioned message schemas, label keys. */
export * from './labels.constants';
export * from './topics.constants';
export * from './common.schema';
export * from './message.parser';
export * from './rollout-request.schema';
export * from './command.schema';
export * from './command-result.schema';
export * from './cluster-state.schema';
export * from './reachability.schema';
export * from './rollout-status.schema';
export * from './dead-letter.schema';
