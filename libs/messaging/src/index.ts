/** Kafka wiring shared by the services: config, clients, topics, error classes, consumer loop, DLQ. */
export * from './kafka.config';
export * from './kafka.client';
export * from './topics.admin';
export * from './group-start.position';
export * from './messaging.errors';
export * from './dead-letter.publisher';
export * from './consumer.runner';
export * from './message.handlers';
export * from './retry';
