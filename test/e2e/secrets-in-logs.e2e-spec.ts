/**
 * Secrets never reach the logs. The planner, an executor and the health watcher run as
 * processes against Kafka's SASL_SSL listener (SCRAM password from a file) and Postgres over
 * TLS (the TLS-only role, password from a file), with API tokens. The test drives them through
 * what handles credentials: REST calls with a valid token, a wrong one (401), none (401) and
 * one out of scope (403); a request event with a producer token (a real rollout, so every
 * service does its work) and one with a wrong token (dead-lettered). Then it stops the services
 * and reads every log file of the run: none holds the Kafka password, the database password
 * or any token, while each holds its redacted config line, so the search reads the right files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { topicNames } from '@ringmaster/contracts';
import { createKafka, createProducer, kafkaConfigFromEnv } from '@ringmaster/messaging';
import { persistenceConfigFromEnv } from '@ringmaster/persistence';
import { newApiToken } from '../../apps/planner/src/auth/api-token';
import { requireInfraEnv } from '../support/infra-env';
import { LOG_DIR, Stack, deleteNamespace, runName, waitFor } from '../support/stack';
import {
  SETTLED,
  collect,
  listRollouts,
  requestAuth,
  startE2eStack,
  type RolloutView,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18219;

describe('secrets never in the logs (e2e, SASL_SSL Kafka, Postgres over TLS, API tokens)', () => {
  const name = runName('e2e-secrets');
  const ns = name;
  const infra = requireInfraEnv(
    'KAFKA_SECURE_BROKERS',
    'KAFKA_SECURE_CA_FILE',
    'KAFKA_SECURE_USERNAME',
    'KAFKA_SECURE_PASSWORD_FILE',
    'DATABASE_SECURE_URL',
    'DATABASE_SECURE_PASSWORD_FILE',
    'DATABASE_SECURE_CA_FILE',
  );
  const secret = (file: string) => readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  const kafkaPassword = secret(infra.KAFKA_SECURE_PASSWORD_FILE);
  const dbPassword = secret(infra.DATABASE_SECURE_PASSWORD_FILE);
  /** A well-formed token the planner never issued. */
  const wrongToken = newApiToken();
  /** What every service gets: secrets only as file paths, never as values. */
  const env: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: infra.KAFKA_SECURE_BROKERS,
    KAFKA_SSL_CA_FILE: infra.KAFKA_SECURE_CA_FILE,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: infra.KAFKA_SECURE_USERNAME,
    KAFKA_SASL_PASSWORD_FILE: infra.KAFKA_SECURE_PASSWORD_FILE,
    // kafkajs at its most talkative: connection and SASL handshakes included.
    KAFKA_LOG_LEVEL: 'debug',
    DATABASE_URL: infra.DATABASE_SECURE_URL,
    DATABASE_PASSWORD_FILE: infra.DATABASE_SECURE_PASSWORD_FILE,
    DATABASE_SSL_CA_FILE: infra.DATABASE_SECURE_CA_FILE,
  };
  let stack: Stack;
  let kubeconfig: string;
  let context: string;
  let kafka: Kafka;
  let producer: Producer;

  beforeAll(async () => {
    ({
      stack,
      kubeconfig,
      contexts: [context],
    } = await startE2eStack({
      name,
      plannerPort: PORT,
      env,
      tokens: { 'e2e-secrets-train': [`roll:*/${ns}`], 'e2e-secrets-reader': ['read:*/*'] },
    }));
    kafka = createKafka(
      kafkaConfigFromEnv(
        { ...env, KAFKA_TOPIC_PREFIX: `${name}.`, KAFKA_LOG_LEVEL: 'nothing' },
        { clientId: `${name}-test` },
      ),
    );
    producer = createProducer(kafka);
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await stack?.dispose();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  it('the planner holds its database sessions over TLS as the TLS-only role', async () => {
    const cfg = persistenceConfigFromEnv(env);
    const db = new DataSource({ type: 'postgres', url: cfg.url, ssl: cfg.ssl, poolSize: 1 });
    await db.initialize();
    try {
      const rows = (await db.query(
        `select s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
          where a.application_name = 'ringmaster-planner' and a.usename = current_user`,
      )) as { ssl: boolean }[];
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.ssl)).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('REST: a valid token is served, a wrong or missing one is 401, an out-of-scope one 403', async () => {
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const dryRun = {
      targets: [{ cluster: context, namespace: ns }],
      change: { kind: 'restart' },
      dryRun: true,
    };
    expect((await stack.api('/v1/rollouts')).status).toBe(200);
    expect(
      (await stack.api('/v1/rollouts', { headers: as(stack.tokens['e2e-secrets-reader']) })).status,
    ).toBe(200);
    expect(
      (
        await stack.api('/v1/rollouts', {
          body: dryRun,
          headers: as(stack.tokens['e2e-secrets-train']),
        })
      ).status,
    ).toBe(200);
    expect((await stack.api('/v1/rollouts', { headers: as(wrongToken) })).status).toBe(401);
    expect(
      (await stack.api('/v1/rollouts', { body: dryRun, headers: as(wrongToken) })).status,
    ).toBe(401);
    const none = await fetch(`${stack.plannerUrl}/v1/rollouts`);
    expect(none.status).toBe(401);
    // `read` may plan (a dry run) but not roll.
    expect(
      (
        await stack.api('/v1/rollouts', {
          body: { ...dryRun, dryRun: false },
          headers: as(stack.tokens['e2e-secrets-reader']),
        })
      ).status,
    ).toBe(403);
  });

  it('request events: a producer token rolls (every service works), a wrong token is dead-lettered', async () => {
    const topics = topicNames(`${name}.`);
    const dead = await collect(kafka, topics.deadLetter, `${name}-test-dlq`);
    try {
      const event = (requestId: string) => ({
        key: requestId,
        value: JSON.stringify({
          v: 1,
          type: 'rollout.request',
          requestId,
          producer: 'e2e-secrets-train',
          targets: [{ cluster: context, namespace: ns }],
          change: { kind: 'restart' },
        }),
      });
      await producer.send({
        topic: topics.requests,
        messages: [
          { ...event(`${name}-impostor`), headers: requestAuth(wrongToken) },
          { ...event(`${name}-train`), headers: requestAuth(stack.tokens['e2e-secrets-train']) },
        ],
      });
      await waitFor(
        () => dead.messages.some((m) => m.value?.includes(`${name}-impostor`)),
        60_000,
        'the impostor event in the dead-letter topic',
      );
      expect(dead.messages.map((m) => m.value).join('\n')).not.toContain(wrongToken);
      let rollouts: { id: string }[] = [];
      await waitFor(
        async () => (rollouts = await listRollouts(stack)).length > 0,
        60_000,
        'the rollout of the event',
      );
      expect(rollouts).toHaveLength(1);
      const done = await stack.waitRollout<RolloutView>(
        rollouts[0].id,
        (r) => SETTLED.includes(r.status),
        240_000,
      );
      expect(done.status).toBe('succeeded');
    } finally {
      await dead.consumer.disconnect();
    }
  });

  it('no log file of the run holds a password or a token; each holds its redacted config', async () => {
    await stack.stop(); // SIGTERM: every line is flushed
    const files = readdirSync(LOG_DIR).filter(
      (f) => f.startsWith(`${name}-`) && f.endsWith('.log'),
    );
    expect(files.sort()).toEqual([
      `${name}-executor-1.log`,
      `${name}-health-watcher.log`,
      `${name}-planner.log`,
    ]);
    const logs = new Map(files.map((f) => [f, readFileSync(join(LOG_DIR, f), 'utf8')]));
    const secrets: [string, string][] = [
      ['the Kafka password', kafkaPassword],
      ['the database password', dbPassword],
      ['an unissued token', wrongToken],
      ...Object.entries(stack.tokens).map(([n, t]): [string, string] => [`token ${n}`, t]),
    ];
    const found = [...logs].flatMap(([file, text]) =>
      secrets.filter(([, s]) => text.includes(s)).map(([what]) => `${what} in ${file}`),
    );
    const lines = [...logs.values()].map((t) => t.split('\n').length);
    console.log(
      `secrets-in-logs: files=${files.length} lines=${lines.reduce((a, b) => a + b, 0)} bytes=${[...logs.values()].reduce((a, t) => a + t.length, 0)} secrets=${secrets.length} found=${found.length}`,
    );
    expect(found).toEqual([]);

    // The search reads what the services wrote: each file has the redacted line of its settings,
    // next to where a leaked password would have been.
    const redactedKafka = `"sasl":{"mechanism":"scram-sha-512","username":"${infra.KAFKA_SECURE_USERNAME}","password":"***"}`;
    for (const [file, text] of logs) {
      expect(text.length).toBeGreaterThan(0);
      expect({ file, hasRedactedKafka: text.includes(redactedKafka) }).toEqual({
        file,
        hasRedactedKafka: true,
      });
      expect(text).toContain(`"brokers":["${infra.KAFKA_SECURE_BROKERS}"]`);
    }
    const planner = logs.get(`${name}-planner.log`)!;
    const dbUser = new URL(infra.DATABASE_SECURE_URL).username;
    expect(planner).toContain(`"url":"postgres://${dbUser}:***@`);
    // The impostor's refusal is logged, without the token it carried.
    expect(planner).toContain('dead-lettered: unauthenticated: unknown or revoked token');
    expect(planner).toMatch(/"ssl":\{"rejectUnauthorized":true,"ca":"<\d+ chars>"\}/);
  });
});
