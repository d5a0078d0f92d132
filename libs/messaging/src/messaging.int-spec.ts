/**
 * Against the real Kafka (scripts/infra.sh up; KAFKA_BROKERS, default 127.0.0.1:19092).
 * Isolation: every topic of this run is under a unique prefix (`it-<time>-<random>.`) and every
 * consumer group is unique; the topics are deleted in afterAll.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, Producer } from 'kafkajs';
import {
  DeadLetterMessageSchema,
  RolloutRequestEventSchema,
  TOPIC_SPECS,
  parseMessage,
  topicNames,
  type DeadLetterMessage,
} from '@ringmaster/contracts';
import { ConsumerRunner, type InboundMessage, type RunnerLogger } from './consumer.runner';
import { positionNewGroup } from './group-start.position';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { kafkaConfigFromEnv } from './kafka.config';
import { createKafka, createProducer } from './kafka.client';
import { schemaHandler } from './message.handlers';
import { RetriableError } from './messaging.errors';
import { ensureTopics } from './topics.admin';

jest.setTimeout(60_000);

const run = `it-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const prefix = `${run}.`;
const topics = topicNames(prefix);
const settings = kafkaConfigFromEnv(
  {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_LOG_LEVEL: 'error',
  },
  { clientId: 'ringmaster-int-test' },
);

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const runners: ConsumerRunner[] = [];
const quiet: RunnerLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: (m) => console.error(m),
};

beforeAll(async () => {
  kafka = createKafka(settings);
  admin = kafka.admin();
  await admin.connect();
  producer = createProducer(kafka);
  await producer.connect();
});

afterAll(async () => {
  for (const r of runners) await r.stop();
  await producer?.disconnect();
  if (admin) {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
  }
});

async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function committedOffset(
  groupId: string,
  topic: string,
  partition: number,
): Promise<string | undefined> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return t?.partitions.find((p) => p.partition === partition)?.offset;
}

/** Reads the dead-letter topic of this run from the start. */
async function readDeadLetters(count: number): Promise<DeadLetterMessage[]> {
  const got: DeadLetterMessage[] = [];
  const consumer = kafka.consumer({
    groupId: `${run}-dlq-reader-${randomBytes(2).toString('hex')}`,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.deadLetter], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r = parseMessage(DeadLetterMessageSchema, message.value);
      if (!r.ok) throw new Error(r.reason);
      got.push(r.value);
    },
  });
  try {
    await waitFor(`${count} dead letters`, () => got.length >= count);
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const request = (requestId: string) =>
  JSON.stringify({
    v: 1,
    type: 'rollout.request',
    requestId,
    producer: 'int-test',
    targets: [{ cluster: 'eu-1', namespace: 'mimir' }],
    change: { kind: 'restart' },
  });

function startRunner(
  groupId: string,
  topic: string,
  handler: (m: InboundMessage) => Promise<void>,
): ConsumerRunner {
  const runner = new ConsumerRunner({
    kafka,
    groupId,
    topics: [topic],
    handler,
    deadLetter: new DeadLetterPublisher(producer, { topic: topics.deadLetter }),
    fromBeginning: true,
    backoff: { initialMs: 50, maxMs: 200 },
    logger: quiet,
  });
  runners.push(runner);
  return runner;
}

describe('ensureTopics', () => {
  it('creates every topic with its configs, and a second run changes nothing', async () => {
    const first = await ensureTopics(admin, {
      prefix,
      replicationFactor: settings.replicationFactor,
    });
    expect(first.created.sort()).toEqual(Object.values(topics).sort());
    expect(first.mismatches).toEqual([]);

    const second = await ensureTopics(admin, { prefix });
    expect(second).toEqual({
      created: [],
      existing: expect.arrayContaining(Object.values(topics)),
      mismatches: [],
    });
    expect(second.existing).toHaveLength(TOPIC_SPECS.length);

    const meta = await admin.fetchTopicMetadata({ topics: [topics.pods, topics.deadLetter] });
    expect(meta.topics.map((t) => [t.name, t.partitions.length]).sort()).toEqual([
      [topics.pods, 6],
      [topics.deadLetter, 1],
    ]);
  });

  it('reports an existing topic whose settings differ, without altering it', async () => {
    const podsSpec = TOPIC_SPECS.find((s) => s.id === 'pods')!;
    const r = await ensureTopics(admin, {
      specs: [
        { ...podsSpec, name: topics.pods, partitions: 12, configs: { 'cleanup.policy': 'delete' } },
      ],
    });
    expect(r.created).toEqual([]);
    expect(r.mismatches).toEqual([
      { topic: topics.pods, setting: 'partitions', expected: '12', actual: '6' },
      { topic: topics.pods, setting: 'cleanup.policy', expected: 'delete', actual: 'compact' },
    ]);
  });
});

describe('ConsumerRunner', () => {
  beforeAll(async () => {
    await ensureTopics(admin, { prefix });
  });

  it('dead-letters a malformed message with its reason and goes on with the next', async () => {
    const groupId = `${run}-requests`;
    const malformed = JSON.stringify({
      v: 1,
      type: 'rollout.request',
      requestId: 'r2',
      producer: 'x',
      targets: [{ namespace: 'mimir' }],
      change: { kind: 'restart' },
    });
    await producer.send({
      topic: topics.requests,
      messages: [
        { key: 'k', value: request('r1') },
        { key: 'k', value: malformed },
        { key: 'k', value: 'not json at all' },
        { key: 'k', value: request('r4') },
      ],
    });

    const handled: string[] = [];
    let partition = -1;
    const runner = startRunner(
      groupId,
      topics.requests,
      schemaHandler(RolloutRequestEventSchema, async (req, m) => {
        handled.push(req.requestId);
        partition = m.partition;
      }),
    );
    await runner.start();
    await waitFor('both valid requests', () => handled.length >= 2);
    await waitFor(
      'offsets committed past the last message',
      async () => (await committedOffset(groupId, topics.requests, partition)) === '4',
    );

    expect(handled).toEqual(['r1', 'r4']);
    expect(runner.stats()).toMatchObject({ handled: 2, deadLettered: 2, retries: 0 });

    const dead = await readDeadLetters(2);
    expect(dead).toEqual([
      expect.objectContaining({
        sourceTopic: topics.requests,
        partition,
        offset: '1',
        key: 'k',
        consumerGroup: groupId,
        reason: 'targets.0.cluster: Required',
        payload: malformed,
        payloadEncoding: 'utf8',
        payloadTruncated: false,
      }),
      expect.objectContaining({
        offset: '2',
        reason: expect.stringMatching(/^invalid JSON: /),
        payload: 'not json at all',
      }),
    ]);
  });

  it('retries a retriable failure with backoff, then handles the message once, in order', async () => {
    const groupId = `${run}-commands`;
    await producer.send({
      topic: topics.commands,
      messages: [
        { key: 'eu-1', value: 'first' },
        { key: 'eu-1', value: 'second' },
      ],
    });

    const attempts: Record<string, number> = {};
    const done: string[] = [];
    let partition = -1;
    const runner = startRunner(groupId, topics.commands, async (m) => {
      const v = m.value!.toString();
      partition = m.partition;
      attempts[v] = (attempts[v] ?? 0) + 1;
      if (v === 'first' && attempts[v] <= 2) throw new RetriableError('kube-apiserver unavailable');
      done.push(v);
    });
    await runner.start();
    await waitFor('both messages handled', () => done.length >= 2);
    await waitFor(
      'offsets committed',
      async () => (await committedOffset(groupId, topics.commands, partition)) === '2',
    );

    expect(done).toEqual(['first', 'second']);
    expect(attempts).toEqual({ first: 3, second: 1 });
    expect(runner.stats()).toMatchObject({ handled: 2, retries: 2, deadLettered: 0 });

    // Nothing more arrives later (the retried message is not redelivered once handled).
    await new Promise((r) => setTimeout(r, 1000));
    expect(attempts).toEqual({ first: 3, second: 1 });
  });
});

describe('positionNewGroup', () => {
  // An executor's new group: commands published since it started are read, older ones never.
  it('starts a new group at the first message since `since`; a member joining later reads from there, not from the then end', async () => {
    await ensureTopics(admin, { prefix });
    const topic = topics.status;
    const groupId = `${run}-new-group`;
    const now = Date.now();
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: 'before', timestamp: String(now - 120_000) },
        { partition: 0, value: 'after', timestamp: String(now - 10_000) },
      ],
    });
    const r = await positionNewGroup(admin, groupId, topic, now - 60_000);
    expect(r.positioned).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await committedOffset(groupId, topic, 0)).toBe('1');

    await producer.send({ topic, messages: [{ partition: 0, value: 'while joining' }] });
    const seen: string[] = [];
    const runner = new ConsumerRunner({
      kafka,
      groupId,
      topics: [topic],
      handler: async (m) => {
        seen.push(m.value?.toString() ?? '');
      },
      deadLetter: new DeadLetterPublisher(producer, { topic: topics.deadLetter }),
      fromBeginning: false, // as the executor: only a committed position makes it read 'after'
      backoff: { initialMs: 50, maxMs: 200 },
      logger: quiet,
    });
    runners.push(runner);
    await runner.start();
    await waitFor('both messages since `since`', () => seen.length >= 2);
    expect(seen).toEqual(['after', 'while joining']);
    // Positioned once: a second call finds every partition committed and changes nothing.
    expect(await positionNewGroup(admin, groupId, topic, now)).toEqual({ positioned: [] });
  });
});
