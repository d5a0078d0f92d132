/**
 * Kafka's transport security against the real broker's SASL_SSL listener (infra/kafka/kafka.sh:
 * TLS with a local CA, SCRAM-SHA-512 user `ringmaster`, its password in a mode-600 file;
 * scripts/infra.sh writes KAFKA_SECURE_* to infra.env). The client config is built by
 * kafkaConfigFromEnv from the same variables a service reads (KAFKA_SSL_CA_FILE,
 * KAFKA_SASL_MECHANISM/USERNAME/PASSWORD_FILE): a message goes through and back; a wrong
 * password is refused by the broker; a CA that did not sign the broker's certificate fails
 * the TLS handshake before any credential is sent.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka } from 'kafkajs';
import { requireInfraEnv } from '../../../test/support/infra-env';
import { createKafka, createProducer } from './kafka.client';
import { kafkaConfigFromEnv, redactedConfig, toKafkaConfig } from './kafka.config';

jest.setTimeout(60_000);

const secure = requireInfraEnv(
  'KAFKA_SECURE_BROKERS',
  'KAFKA_SECURE_CA_FILE',
  'KAFKA_SECURE_USERNAME',
  'KAFKA_SECURE_PASSWORD_FILE',
);
const run = `it-secure-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'rk-kafka-secure-'));

/** The environment a service would get, with `over` replacing some of it. */
const env = (over: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  KAFKA_BROKERS: secure.KAFKA_SECURE_BROKERS,
  KAFKA_SSL_CA_FILE: secure.KAFKA_SECURE_CA_FILE,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: secure.KAFKA_SECURE_USERNAME,
  KAFKA_SASL_PASSWORD_FILE: secure.KAFKA_SECURE_PASSWORD_FILE,
  KAFKA_TOPIC_PREFIX: `${run}.`,
  KAFKA_LOG_LEVEL: 'nothing',
  ...over,
});

/** What a connect attempt answers, without kafkajs' retries (a refusal is final anyway). */
async function connectError(over: Record<string, string>): Promise<Error> {
  const settings = kafkaConfigFromEnv(env(over), { clientId: 'ringmaster-int-secure' });
  const admin = new Kafka({ ...toKafkaConfig(settings), retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
  } catch (err) {
    return err as Error;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  throw new Error('connected, but should have been refused');
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Kafka over SASL_SSL (SCRAM-SHA-512, CA-verified TLS)', () => {
  it('produces and consumes with the settings kafkaConfigFromEnv reads; the password comes from the file and is not in the loggable config', async () => {
    const settings = kafkaConfigFromEnv(env(), { clientId: 'ringmaster-int-secure' });
    const password = readFileSync(secure.KAFKA_SECURE_PASSWORD_FILE, 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(32);
    expect(settings.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: secure.KAFKA_SECURE_USERNAME,
      password,
    });
    expect(settings.ssl).toEqual({ ca: readFileSync(secure.KAFKA_SECURE_CA_FILE, 'utf8') });
    expect(settings.warnings).toEqual([]);
    expect(JSON.stringify(redactedConfig(settings))).not.toContain(password);

    const kafka = createKafka(settings);
    const topic = `${run}.secure`;
    const admin = kafka.admin();
    const producer = createProducer(kafka);
    const consumer = kafka.consumer({ groupId: `${run}-group` });
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({
        topic,
        messages: [{ key: 'cluster-a', value: 'over TLS', headers: { via: 'SASL_SSL' } }],
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<{ key?: string; value?: string; via?: string }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) =>
            resolve({
              key: message.key?.toString(),
              value: message.value?.toString(),
              via: message.headers?.via?.toString(),
            }),
        });
      });
      expect(got).toEqual({ key: 'cluster-a', value: 'over TLS', via: 'SASL_SSL' });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('a wrong password is refused by the broker with an authentication error', async () => {
    const wrong = join(tmp, 'wrong.password');
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
    const err = await connectError({ KAFKA_SASL_PASSWORD_FILE: wrong });
    expect(err.name).toBe('KafkaJSSASLAuthenticationError');
    expect(err.message).toMatch(
      /^SASL SCRAM SHA512 authentication failed: .*invalid credentials with SASL mechanism SCRAM-SHA-512/,
    );
    expect(err.message).not.toContain('not-the-password');
  });

  it('a CA that did not sign the broker certificate fails the TLS handshake', async () => {
    const other = join(tmp, 'other-ca');
    execFileSync('bash', [join(__dirname, '../../../infra/tls/issue-cert.sh'), other, 'other'], {
      stdio: 'ignore',
    });
    const err = await connectError({ KAFKA_SSL_CA_FILE: join(other, 'ca.crt') });
    // kafkajs gives up at once (retries: 0) and names the connection error as the cause.
    expect(err.message).toBe('Connection error: self-signed certificate in certificate chain');
    expect((err.cause as Error | undefined)?.name).toBe('KafkaJSConnectionError');
  });

  it('a client without TLS on the SASL_SSL listener gets its connection closed', async () => {
    const err = await connectError({
      KAFKA_SSL_CA_FILE: '',
      KAFKA_SASL_MECHANISM: '',
      KAFKA_SASL_USERNAME: '',
      KAFKA_SASL_PASSWORD_FILE: '',
    });
    expect(err.message).toBe('Closed connection');
  });
});
