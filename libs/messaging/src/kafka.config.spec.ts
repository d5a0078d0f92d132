import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel } from 'kafkajs';
import {
  KafkaConfigError,
  groupTimeouts,
  kafkaConfigFromEnv,
  redactedConfig,
  toKafkaConfig,
} from './kafka.config';

const file = (name: string, content: string) => {
  const p = join(tmpdir(), `rm-${process.pid}-${name}`);
  writeFileSync(p, content);
  return p;
};

describe('kafkaConfigFromEnv', () => {
  it('reads the minimal config', () => {
    const s = kafkaConfigFromEnv(
      { KAFKA_BROKERS: '127.0.0.1:19092' },
      { clientId: 'ringmaster-planner' },
    );
    expect(s).toMatchObject({
      brokers: ['127.0.0.1:19092'],
      clientId: 'ringmaster-planner',
      ssl: false,
      sasl: undefined,
      topicPrefix: '',
      replicationFactor: -1,
      logLevel: 'warn',
      sessionTimeoutMs: 30_000,
      warnings: [],
    });
    expect(groupTimeouts(s)).toEqual({ sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    expect(s.topics.commands).toBe('rollout.commands');
    expect(toKafkaConfig(s)).toMatchObject({
      brokers: ['127.0.0.1:19092'],
      clientId: 'ringmaster-planner',
      logLevel: logLevel.WARN,
    });
    expect(toKafkaConfig(s).ssl).toBeUndefined();
  });

  it('reads TLS, SASL from a password file, and a topic prefix', () => {
    const ca = file('ca.pem', 'PEM');
    const pw = file('pw', 's3cret\n');
    const s = kafkaConfigFromEnv({
      KAFKA_BROKERS: 'kafka-0.kafka:9093, kafka-1.kafka:9093',
      KAFKA_CLIENT_ID: 'rm',
      KAFKA_SSL_CA_FILE: ca,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'ringmaster',
      KAFKA_SASL_PASSWORD_FILE: pw,
      KAFKA_TOPIC_PREFIX: 'staging.',
      KAFKA_REPLICATION_FACTOR: '3',
    });
    expect(s).toMatchObject({
      brokers: ['kafka-0.kafka:9093', 'kafka-1.kafka:9093'],
      ssl: { ca: 'PEM' },
      sasl: { mechanism: 'scram-sha-512', username: 'ringmaster', password: 's3cret' },
      replicationFactor: 3,
    });
    expect(s.topics.deadLetter).toBe('staging.ringmaster.dead-letter');
    expect(toKafkaConfig(s)).toMatchObject({
      ssl: { ca: ['PEM'], rejectUnauthorized: true },
      sasl: { mechanism: 'scram-sha-512', username: 'ringmaster', password: 's3cret' },
    });
  });

  it('never shows the password when logged, and warns about SASL without TLS', () => {
    const s = kafkaConfigFromEnv({
      KAFKA_BROKERS: 'k:9092',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'hunter2',
    });
    expect(JSON.stringify(redactedConfig(s))).not.toContain('hunter2');
    expect(redactedConfig(s).sasl).toEqual({ mechanism: 'plain', username: 'u', password: '***' });
    expect(s.warnings).toEqual([expect.stringContaining('without TLS')]);
  });

  // [case, env, variables named]
  const refusals: [string, NodeJS.ProcessEnv, string[]][] = [
    ['nothing set', {}, ['KAFKA_BROKERS']],
    ['broker without port', { KAFKA_BROKERS: 'kafka' }, ['KAFKA_BROKERS']],
    ['port out of range', { KAFKA_BROKERS: 'kafka:99999' }, ['KAFKA_BROKERS']],
    ['SSL not a boolean', { KAFKA_BROKERS: 'k:1', KAFKA_SSL: 'sure' }, ['KAFKA_SSL']],
    [
      'unreadable CA',
      { KAFKA_BROKERS: 'k:1', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' },
      ['KAFKA_SSL_CA_FILE'],
    ],
    [
      'unknown mechanism',
      { KAFKA_BROKERS: 'k:1', KAFKA_SASL_MECHANISM: 'gssapi' },
      ['KAFKA_SASL_MECHANISM'],
    ],
    [
      'mechanism without credentials',
      { KAFKA_BROKERS: 'k:1', KAFKA_SASL_MECHANISM: 'plain' },
      ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'],
    ],
    [
      'both password and file',
      {
        KAFKA_BROKERS: 'k:1',
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
        KAFKA_SASL_PASSWORD_FILE: '/f',
      },
      ['KAFKA_SASL_PASSWORD_FILE'],
    ],
    [
      'credentials without mechanism',
      { KAFKA_BROKERS: 'k:1', KAFKA_SASL_USERNAME: 'u' },
      ['KAFKA_SASL_USERNAME'],
    ],
    ['bad prefix', { KAFKA_BROKERS: 'k:1', KAFKA_TOPIC_PREFIX: 'a/b' }, ['KAFKA_TOPIC_PREFIX']],
    [
      'replication factor 0',
      { KAFKA_BROKERS: 'k:1', KAFKA_REPLICATION_FACTOR: '0' },
      ['KAFKA_REPLICATION_FACTOR'],
    ],
    ['log level', { KAFKA_BROKERS: 'k:1', KAFKA_LOG_LEVEL: 'loud' }, ['KAFKA_LOG_LEVEL']],
    [
      'session timeout under the broker minimum',
      { KAFKA_BROKERS: 'k:1', KAFKA_SESSION_TIMEOUT_MS: '1000' },
      ['KAFKA_SESSION_TIMEOUT_MS'],
    ],
    [
      'session timeout not a number',
      { KAFKA_BROKERS: 'k:1', KAFKA_SESSION_TIMEOUT_MS: '10s' },
      ['KAFKA_SESSION_TIMEOUT_MS'],
    ],
    [
      'several at once',
      { KAFKA_SSL: 'x', KAFKA_LOG_LEVEL: 'loud' },
      ['KAFKA_BROKERS', 'KAFKA_SSL', 'KAFKA_LOG_LEVEL'],
    ],
  ];
  it.each(refusals)('refuses %s, naming each variable', (_case, env, variables) => {
    let error: unknown;
    try {
      kafkaConfigFromEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KafkaConfigError);
    expect((error as KafkaConfigError).problems.map((p) => p.variable)).toEqual(variables);
  });

  it('does not echo a password in an error', () => {
    expect(() =>
      kafkaConfigFromEnv({
        KAFKA_BROKERS: 'k:1',
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'hunter2',
        KAFKA_SASL_PASSWORD_FILE: '/f',
      }),
    ).toThrow(/^(?!.*hunter2)/s);
  });
});

describe('groupTimeouts', () => {
  it('a shorter session (faster hand-over of a dead member) heartbeats a tenth as often', () => {
    const s = kafkaConfigFromEnv({ KAFKA_BROKERS: 'k:1', KAFKA_SESSION_TIMEOUT_MS: '8000' });
    expect(groupTimeouts(s)).toEqual({ sessionTimeout: 8_000, heartbeatInterval: 800 });
  });
});
