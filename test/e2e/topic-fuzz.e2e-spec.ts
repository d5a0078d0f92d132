/**
 * Topic fuzz against the running services: a seeded sample of hostile payloads
 * (libs/contracts/src/testing/hostile-payload.arbitrary.ts, the same arbitraries the unit
 * properties check the parsers with) is produced to every topic a service consumes, then one
 * valid sentinel per topic. Asserted:
 *  - every hostile record is in the dead-letter topic, once, with its topic, partition, offset,
 *    key and size, and a reason naming what is wrong (the pattern the arbitrary gives); a
 *    credential header is redacted there;
 *  - every sentinel was processed, after the hostile records of its partition (consumers
 *    never stopped): a request event becomes a rollout that succeeds (which takes the
 *    executor's command results, on partitions that had hostile results before them); a
 *    workload and a pod observation of a made-up target show in a dry run; a command for a pod
 *    that does not exist gets its result back; tombstones on the compacted topics are
 *    deletions, not dead letters; once every dead letter is in, a valid 'unreachable' record
 *    for the run's target blocks a new rollout of it (the reason is the record's) and a later
 *    'reachable' one lets that rollout succeed;
 *  - no service process exited, no consumer crashed (logs), the planner still answers /readyz.
 *
 * The seed is RINGMASTER_PROPERTY_SEED when set (CI), else random; it is printed, with the
 * counts. RINGMASTER_FUZZ_PER_TOPIC sets the sample size (default 40).
 *
 * Payloads over MAX_MESSAGE_BYTES are sent gzip-compressed: the broker limits compressed batches,
 * so a hostile producer can hand consumers values larger than the limit; the readers check
 * the size of the decompressed value.
 */
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompressionTypes, type Consumer, type Producer } from 'kafkajs';
import {
  COMMAND_TYPE,
  POD_STATE_TYPE,
  REACHABILITY_TYPE,
  REQUEST_AUTH_HEADER,
  ROLLOUT_REQUEST_TYPE,
  WORKLOAD_STATE_TYPE,
  clusterStateKey,
  reachabilityKey,
  topicNames,
  type DeadLetterMessage,
} from '@ringmaster/contracts';
import {
  CONSUMED_TOPICS,
  hostileKinds,
  hostilePayload,
  type ConsumedTopic,
  type HostilePayload,
} from '../../libs/contracts/src/testing/hostile-payload.arbitrary';
import { LOG_DIR, Stack, deleteNamespace, runName, waitFor } from '../support/stack';
import { collect, requestAuth, startE2eStack, testKafka, type RolloutView } from './e2e.helpers';

jest.setTimeout(600_000);

const PORT = 18208;
const PARTITIONS = 6;
const PER_TOPIC = Number(process.env.RINGMASTER_FUZZ_PER_TOPIC ?? 40);
const SEED = process.env.RINGMASTER_PROPERTY_SEED
  ? Number(process.env.RINGMASTER_PROPERTY_SEED)
  : Math.floor(Math.random() * 2 ** 31);

/** A record this test produced, where it landed. */
interface Sent {
  topic: ConsumedTopic;
  partition: number;
  offset: string;
  key: string | null;
  bytes: number;
  withToken: boolean;
  payload?: HostilePayload;
}

interface Collected {
  consumer: Consumer;
  messages: { key: string | null; value: string | null; offset: string }[];
}

describe('topic fuzz: hostile records on every consumed topic (e2e)', () => {
  const name = runName('e2e-fuzz');
  const ns = name;
  /** A target only the sentinels' observations describe (nothing watches or rolls it). */
  const ghostNs = `${name}-ghost`;
  const topics = topicNames(`${name}.`);
  let kubeconfig: string;
  let context: string;
  let stack: Stack;
  let producer: Producer;
  let dlq: Collected | undefined;
  let results: Collected | undefined;
  const started = Date.now();

  beforeAll(async () => {
    let kafkaBrokers: string;
    ({
      stack,
      kafkaBrokers,
      kubeconfig,
      contexts: [context],
    } = await startE2eStack({ name, plannerPort: PORT }));
    const kafka = testKafka(kafkaBrokers, `${name}-fuzz`);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    dlq = await collect(kafka, topics.deadLetter, `${name}-fuzz-dlq`);
    results = await collect(kafka, topics.commandResults, `${name}-fuzz-results`);
  });

  afterAll(async () => {
    await dlq?.consumer.disconnect().catch(() => undefined);
    await results?.consumer.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await stack?.dispose();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  async function send(
    topic: ConsumedTopic,
    partition: number,
    key: string | null,
    value: Buffer | string | null,
    headers: Record<string, string> = {},
  ): Promise<Sent> {
    const [meta] = await producer.send({
      topic: topics[topic],
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: [{ partition, key, value, headers }],
    });
    return {
      topic,
      partition,
      offset: meta.baseOffset!,
      key,
      bytes: value === null ? 0 : Buffer.byteLength(value),
      withToken: REQUEST_AUTH_HEADER in headers,
    };
  }

  /** The executor's result of command `id`; the topic also holds this test's hostile records. */
  const resultFor = (id: string) =>
    results!.messages
      .map((m) => {
        try {
          return JSON.parse(m.value ?? '{}') as { commandId?: unknown; outcome: string };
        } catch {
          return undefined;
        }
      })
      .find((r) => r?.commandId === id);

  /** Waits for the executor's result of command `id` (on rollout.command-results). */
  async function resultOf(id: string, timeoutMs = 60_000): Promise<{ outcome: string }> {
    await waitFor(() => resultFor(id) !== undefined, timeoutMs, `the result of command ${id}`);
    return resultFor(id)!;
  }

  const command = (id: string, pod: string) => ({
    v: 1,
    type: COMMAND_TYPE,
    issuedAt: Date.now(),
    kind: 'restart-pod',
    id,
    rolloutId: `${name}-fuzz`,
    target: { cluster: context, namespace: ghostNs },
    pod,
    uid: randomUUID(),
    method: 'evict',
  });

  it('every hostile record is dead-lettered with its reason; the consumers go on', async () => {
    // Partition of each topic's hostile records and sentinel (command results: all of them).
    const home = Object.fromEntries(
      CONSUMED_TOPICS.map((t, i) => [t, (SEED + i) % PARTITIONS]),
    ) as Record<ConsumedTopic, number>;

    // Once a command is answered, the executor reads that partition and nothing sent after it
    // is skipped; another goes every 10 s until one is answered.
    let answered = false;
    for (let i = 1; !answered; i++) {
      if (i > 9) throw new Error('the executor answered no command in 90 s');
      const id = `${name}-warmup:${i}`;
      await send('commands', home.commands, context, JSON.stringify(command(id, 'warmup-0')));
      answered = await resultOf(id, 10_000).then(
        () => true,
        () => false,
      );
    }

    // Per topic: one of every kind that applies to it, the rest drawn from all kinds; shuffled.
    const samples = Object.fromEntries(
      CONSUMED_TOPICS.map((t, i) => {
        const kinds = hostileKinds(t);
        const each = kinds.map(
          (k, j) => fc.sample(hostilePayload(t, [k]), { numRuns: 1, seed: SEED + 100 * i + j })[0],
        );
        const rest = fc.sample(hostilePayload(t), {
          numRuns: Math.max(0, PER_TOPIC - each.length),
          seed: SEED + i,
        });
        return [
          t,
          fc.sample(
            fc.shuffledSubarray([...each, ...rest], { minLength: each.length + rest.length }),
            { numRuns: 1, seed: SEED },
          )[0],
        ];
      }),
    ) as Record<ConsumedTopic, HostilePayload[]>;
    const hostile: Sent[] = [];
    const fine: Sent[] = [];
    const sendHostile = async (p: HostilePayload, partition: number, i: number) => {
      // Half of the request events carry the stack's token: a dead letter must not show it.
      const headers =
        p.topic === 'requests' && i % 2 === 0
          ? { ...requestAuth(stack.token), 'fuzz-case': String(i) }
          : { 'fuzz-case': String(i) };
      hostile.push({ ...(await send(p.topic, partition, p.key, p.value, headers)), payload: p });
    };

    // All but the last hostile record of each topic, then a tombstone (compacted topics), the
    // sentinel, and the last hostile record: its dead letter comes after any the sentinel or
    // tombstone could have caused (one source partition is dead-lettered in order).
    for (const t of CONSUMED_TOPICS) {
      const sample = samples[t];
      for (const [i, p] of sample.slice(0, -1).entries())
        await sendHostile(p, t === 'commandResults' ? i % PARTITIONS : home[t], i);
    }
    for (const t of ['pods', 'workloads'] as const)
      fine.push(await send(t, home[t], `${context}/${ghostNs}/fuzz-gone`, null));
    fine.push(await send('reachability', home.reachability, `${context}/${ghostNs}`, null));

    const now = Date.now();
    const workload = {
      v: 1,
      type: WORKLOAD_STATE_TYPE,
      cluster: context,
      namespace: ghostNs,
      name: 'fuzz-sentinel',
      kind: 'StatefulSet',
      component: 'compactor',
      updateStrategy: 'OnDelete',
      replicas: 1,
      generation: 1,
      observedGeneration: 1,
      updateRevision: 'fuzz-sentinel-1',
      statusReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      updatedReplicas: 1,
      resourceVersion: '1',
      observedAt: now,
    };
    const pod = {
      v: 1,
      type: POD_STATE_TYPE,
      cluster: context,
      namespace: ghostNs,
      name: 'fuzz-sentinel-0',
      uid: randomUUID(),
      workload: 'fuzz-sentinel',
      component: 'compactor',
      revision: 'fuzz-sentinel-1',
      ready: true,
      readySince: now,
      resourceVersion: '1',
      observedAt: now,
    };
    const sentinelId = `${name}-sentinel:1`;
    const requestId = `${name}-sentinel`;
    fine.push(
      await send('workloads', home.workloads, clusterStateKey(workload), JSON.stringify(workload)),
      await send('pods', home.pods, clusterStateKey(pod), JSON.stringify(pod)),
      await send('commands', home.commands, context, JSON.stringify(command(sentinelId, 'gone-0'))),
      await send(
        'requests',
        home.requests,
        requestId,
        JSON.stringify({
          v: 1,
          type: ROLLOUT_REQUEST_TYPE,
          requestId,
          producer: 'admin',
          targets: [{ cluster: context, namespace: ns }],
          change: { kind: 'restart' },
          components: ['compactor'],
        }),
        requestAuth(stack.token),
      ),
    );
    for (const t of CONSUMED_TOPICS) {
      const sample = samples[t];
      await sendHostile(sample[sample.length - 1], home[t], sample.length - 1);
    }

    // Sentinels: each was processed after the hostile records of its partition.
    expect((await resultOf(sentinelId)).outcome).toBe('already-done');
    let plan = '';
    await waitFor(
      async () => {
        const r = await stack.api<unknown>('/v1/rollouts', {
          body: {
            targets: [{ cluster: context, namespace: ghostNs }],
            change: { kind: 'restart' },
            dryRun: true,
          },
        });
        plan = JSON.stringify(r.body);
        return r.status === 200 && plan.includes('"fuzz-sentinel-0"');
      },
      60_000,
      'the sentinel workload and pod in a dry run of their target',
      () => plan.slice(0, 1000),
    );
    let rolloutId = '';
    await waitFor(
      async () => {
        const r = await stack.api<{ items: { id: string }[] }>('/v1/rollouts?limit=50');
        rolloutId = r.body.items?.[0]?.id ?? '';
        return rolloutId !== '';
      },
      60_000,
      'the sentinel request event to create a rollout',
    );
    const done = await stack.waitRollout<RolloutView>(rolloutId, (r) =>
      ['succeeded', 'failed', 'aborted', 'blocked'].includes(r.status),
    );
    expect(done.status).toBe('succeeded');

    // Every hostile record, dead-lettered once, with where it came from and why.
    const where = (s: { topic: string; partition: number; offset: string }) =>
      `${s.topic}/${s.partition}@${s.offset}`;
    const sourceTopic = Object.fromEntries(CONSUMED_TOPICS.map((t) => [topics[t], t]));
    const letters = () =>
      dlq!.messages.map((m) => ({
        raw: m.value ?? '',
        l: JSON.parse(m.value ?? '{}') as DeadLetterMessage,
      }));
    const byPlace = () => {
      const out = new Map<string, { raw: string; l: DeadLetterMessage }[]>();
      for (const x of letters()) {
        const k = where({
          topic: sourceTopic[x.l.sourceTopic] ?? x.l.sourceTopic,
          partition: x.l.partition,
          offset: x.l.offset,
        });
        out.set(k, [...(out.get(k) ?? []), x]);
      }
      return out;
    };
    const missing = () => hostile.filter((h) => !byPlace().has(where(h)));
    await waitFor(
      () => missing().length === 0,
      120_000,
      'a dead letter for every hostile record',
      () =>
        missing()
          .map((h) => `${where(h)} [${h.payload!.label}]`)
          .join('\n'),
    );

    // Reachability sentinels, after every hostile record of the topic was dead-lettered (the
    // watcher publishes only when reachability flips, so it does not overwrite them): the run's
    // target said unreachable blocks a new rollout with the record's reason, and said
    // reachable again (a later observedAt) lets the rollout go on and succeed.
    const outage = `fuzz sentinel outage ${name}`;
    const reach = (reachable: boolean) => {
      const at = Date.now();
      const m = {
        v: 1,
        type: REACHABILITY_TYPE,
        cluster: context,
        namespace: ns,
        reachable,
        since: at,
        ...(reachable ? {} : { reason: outage }),
        observedAt: at,
      };
      return send('reachability', home.reachability, reachabilityKey(m), JSON.stringify(m));
    };
    fine.push(await reach(false));
    const second = await stack.api<{ id?: string }>('/v1/rollouts', {
      body: {
        targets: [{ cluster: context, namespace: ns }],
        change: { kind: 'restart' },
        components: ['compactor'],
      },
    });
    expect(second.status).toBe(201);
    const secondId = second.body.id!;
    const held = await stack.waitRollout<RolloutView>(secondId, (r) =>
      ['succeeded', 'failed', 'aborted', 'blocked'].includes(r.status),
    );
    expect(held.status).toBe('blocked');
    expect(JSON.stringify(held.targetProgress)).toContain(outage);
    fine.push(await reach(true));
    const resumed = await stack.waitRollout<RolloutView>(secondId, (r) =>
      ['succeeded', 'failed', 'aborted'].includes(r.status),
    );
    expect(resumed.status).toBe('succeeded');

    const found = byPlace();
    const problems: string[] = [];
    const perTopic: Record<string, number> = {};
    for (const h of hostile) {
      const got = found.get(where(h))!;
      const p = h.payload!;
      perTopic[h.topic] = (perTopic[h.topic] ?? 0) + got.length;
      const { l, raw } = got[0];
      const say = (what: string) => problems.push(`${where(h)} [${p.label}]: ${what}`);
      if (got.length !== 1) say(`${got.length} dead letters`);
      if (l.type !== 'dead-letter') say(`type ${l.type}`);
      if (!l.reason || !p.reason.test(l.reason))
        say(`reason ${JSON.stringify(l.reason)} does not match ${p.reason}`);
      const key = h.key === null ? null : Buffer.from(h.key).toString('utf8');
      if ((l.key ?? null) !== key) say(`key ${JSON.stringify(l.key)}, sent ${JSON.stringify(key)}`);
      if (l.payloadBytes !== h.bytes) say(`payloadBytes ${l.payloadBytes}, sent ${h.bytes}`);
      if (raw.includes(stack.token)) say('the token is in the dead letter');
      if (h.withToken && l.headers?.authorization !== '<redacted>')
        say(`authorization header ${JSON.stringify(l.headers?.authorization)}`);
    }
    // Nothing valid was dead-lettered: not a sentinel, not a tombstone.
    for (const f of fine)
      if (found.has(where(f)))
        problems.push(`${where(f)} (valid) dead-lettered: ${found.get(where(f))![0].l.reason}`);

    // No consumer stopped or crashed, no service exited, the planner is ready.
    expect(stack.exited()).toEqual({});
    expect((await fetch(`${stack.plannerUrl}/readyz`)).status).toBe(200);
    for (const id of stack.services()) {
      const log = readFileSync(join(LOG_DIR, `${name}-${id}.log`), 'utf8');
      for (const line of log.split('\n'))
        if (/crashed|failed to start|could not dead-letter|parse failed unexpectedly/.test(line))
          problems.push(`${id} log: ${line.slice(0, 300)}`);
    }

    const kinds = new Map<string, Map<string, number>>();
    for (const h of hostile) {
      const m = kinds.get(h.topic) ?? new Map<string, number>();
      m.set(h.payload!.kind, (m.get(h.payload!.kind) ?? 0) + 1);
      kinds.set(h.topic, m);
    }
    console.log(
      [...kinds]
        .map(([t, m]) => `${t}: ${[...m].map(([k, n]) => `${k}=${n}`).join(' ')}`)
        .join('\n') +
        `\ntopic-fuzz: seed=${SEED} per_topic=${PER_TOPIC} hostile=${hostile.length} ` +
        `dead_letters=${Object.values(perTopic).reduce((a, b) => a + b, 0)} ` +
        `${CONSUMED_TOPICS.map((t) => `${t}=${perTopic[t] ?? 0}`).join(' ')} ` +
        `sentinels=6 problems=${problems.length} exited=${Object.keys(stack.exited()).length} ` +
        `seconds=${Math.round((Date.now() - started) / 1000)}`,
    );
    expect(problems).toEqual([]);
  });
});
