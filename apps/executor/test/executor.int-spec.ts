/**
 * The executor app in-process against the real Kafka (scripts/infra.sh up; KAFKA_BROKERS,
 * default 127.0.0.1:19092) and a real kwok control plane (scripts/cluster.sh up; KUBECONFIG,
 * default the merged kubeconfig of cluster.sh; EXECUTOR_IT_CONTEXT, default the first context).
 *
 * Isolation: topics under a unique prefix, a unique consumer group, and a namespace of its own
 * (`rx-exec-*`) holding two small OnDelete StatefulSets labelled like the mimir-distributed
 * chart's; all deleted afterwards.
 *
 * Two cluster names point at the same kube context (`<run>-a=ctx,<run>-b=ctx`), chosen so their
 * keys land on different partitions of `rollout.commands`: that shows a restart of cluster A
 * held by a PodDisruptionBudget does not hold up cluster B, without a second control plane.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { Partitioners, type Admin, type Consumer, type Kafka, type Producer } from 'kafkajs';
import request from 'supertest';
import {
  CommandMessageSchema,
  CommandResultMessageSchema,
  DeadLetterMessageSchema,
  LABEL_APP_NAME,
  LABEL_COMPONENT,
  LABEL_CONTROLLER_REVISION,
  LABEL_NAME,
  LABEL_ROLLOUT_GROUP,
  LABEL_ZONE,
  encodeMessage,
  parseMessage,
  toCommandMessage,
  type CommandResultMessage,
  type DeadLetterMessage,
} from '@ringmaster/contracts';
import { type KubeClusterClients, loadClusters } from '@ringmaster/kube';
import { createKafka, createProducer, ensureTopics } from '@ringmaster/messaging';
import type { Command } from '@ringmaster/rollout-core';
import { CommandConsumer } from '../src/command.consumer';
import { EXECUTOR_CONFIG, loadExecutorConfig, type ExecutorConfig } from '../src/executor.config';
import { ExecutorModule } from '../src/executor.module';
import { waitFor } from '../../../test/support/wait-for';

jest.setTimeout(120_000);

const run = `ex-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const prefix = `${run}.`;
const ns = `rx-exec-${randomBytes(3).toString('hex')}`;
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
const kubeconfig =
  process.env.KUBECONFIG ??
  join(
    process.env.RINGMASTER_STATE_DIR ??
      join(process.env.RINGMASTER_CACHE ?? join(homedir(), '.cache', 'ringmaster'), 'clusters'),
    'kubeconfig.yaml',
  );

/** Two cluster names whose keys go to different partitions (6, as TOPIC_SPECS). */
function twoClusterNames(): [string, string] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = [0, 1, 2, 3, 4, 5].map((partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
  const partitionOf = (key: string) =>
    partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
  const a = `${run}-a`;
  for (const s of 'bcdefghijklmnopqrstuvwxyz') {
    const b = `${run}-${s}`;
    if (partitionOf(b) !== partitionOf(a)) return [a, b];
  }
  throw new Error('no two names on different partitions');
}
const [clusterA, clusterB] = twoClusterNames();

let context: string;
let kube: KubeClusterClients;
let config: ExecutorConfig;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let reader: Consumer;
let app: INestApplication | undefined;
let executor: CommandConsumer;
const results: CommandResultMessage[] = [];
const deadLetters: DeadLetterMessage[] = [];
let seq = 0;

// ------------------------------------------------------------------ helpers

const resultsOf = (id: string) => results.filter((r) => r.commandId === id);
const finalOf = (id: string) =>
  waitFor(`a final result of ${id}`, () =>
    resultsOf(id).find((r) => r.outcome !== 'refused' || !/retrying/.test(r.detail ?? '')),
  );

/** Produces a command (key = its cluster); resolves to where it landed. */
async function send(
  cmd: Command,
  key: string = cmd.target.cluster,
): Promise<{ partition: number; offset: string }> {
  const [meta] = await producer.send({
    topic: config.kafka.topics.commands,
    acks: -1,
    messages: [
      { key, value: encodeMessage(CommandMessageSchema, toCommandMessage(cmd, Date.now())) },
    ],
  });
  return { partition: meta.partition, offset: meta.baseOffset ?? meta.offset ?? '' };
}

function restartPod(cluster: string, pod: string, uid: string, id = `${run}:${++seq}`): Command {
  return {
    kind: 'restart-pod',
    id,
    rolloutId: run,
    target: { cluster, namespace: ns },
    pod,
    uid,
    method: 'evict',
  };
}

async function readyPod(name: string): Promise<V1Pod> {
  return waitFor(`pod ${name} Ready`, async () => {
    const p = await kube.core.readNamespacedPod({ name, namespace: ns });
    return !p.metadata?.deletionTimestamp &&
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
      ? p
      : undefined;
  });
}

function statefulSet(component: string, zone: string, replicas: number): KubernetesObject {
  const name = `${component}-${zone}`;
  const labels = {
    [LABEL_APP_NAME]: 'mimir',
    [LABEL_COMPONENT]: component,
    [LABEL_NAME]: name,
    [LABEL_ROLLOUT_GROUP]: component,
    [LABEL_ZONE]: zone,
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: `mimir-${name}`, namespace: ns, labels },
    spec: {
      replicas,
      serviceName: `mimir-${name}`,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels },
      updateStrategy: { type: 'OnDelete' },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: component, image: 'grafana/mimir:2.14.0' }],
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    },
  } as KubernetesObject;
}

/** Starts the executor app as main.ts builds it, with this run's config, and waits for /readyz. */
async function startExecutor(id: string): Promise<void> {
  config = { ...config, executorId: `${run}-${id}` };
  const moduleRef = await Test.createTestingModule({ imports: [ExecutorModule] })
    .overrideProvider(EXECUTOR_CONFIG)
    .useValue(config)
    .compile();
  app = moduleRef.createNestApplication({ logger: ['error'] });
  await app.init();
  executor = app.get(CommandConsumer);
  await waitFor('GET /readyz 200', async () => {
    const r = await request(app!.getHttpServer()).get('/readyz');
    return r.status === 200;
  });
}

async function committed(topic: string, partition: number): Promise<string | undefined> {
  const [t] = await admin.fetchOffsets({ groupId: `${run}-executors`, topics: [topic] });
  return t.partitions.find((p) => p.partition === partition)?.offset;
}

const PDB = 'mimir-ingester';
const setMinAvailable = (n: number) =>
  kube.policy.patchNamespacedPodDisruptionBudget(
    { name: PDB, namespace: ns, body: { spec: { minAvailable: n } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );

// ------------------------------------------------------------------ setup

beforeAll(async () => {
  if (!process.env.KUBECONFIG && !existsSync(kubeconfig))
    throw new Error(`no kubeconfig at ${kubeconfig}: run 'scripts/cluster.sh up'`);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  context = process.env.EXECUTOR_IT_CONTEXT ?? kc.getContexts()[0]?.name;
  kube = loadClusters({ kubeconfigPath: kubeconfig, contexts: [context] }).get(context)!;

  config = loadExecutorConfig({
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_LOG_LEVEL: 'error',
    KUBECONFIG: kubeconfig,
    RINGMASTER_CONTEXTS: `${clusterA}=${context},${clusterB}=${context}`,
    EXECUTOR_GROUP_ID: `${run}-executors`,
    EXECUTOR_BACKOFF_INITIAL_MS: '200',
    EXECUTOR_BACKOFF_MAX_MS: '1000',
  });

  // Kafka: topics of this run, a reader of results and dead letters from the start.
  kafka = createKafka(config.kafka);
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { prefix });
  producer = createProducer(kafka);
  await producer.connect();
  reader = kafka.consumer({ groupId: `${run}-reader`, maxWaitTimeInMs: 200 });
  await reader.connect();
  await reader.subscribe({
    topics: [config.kafka.topics.commandResults, config.kafka.topics.deadLetter],
    fromBeginning: true,
  });
  await reader.run({
    eachMessage: async ({ topic, message }) => {
      if (topic === config.kafka.topics.deadLetter) {
        const r = parseMessage(DeadLetterMessageSchema, message.value);
        if (!r.ok) throw new Error(`bad dead letter: ${r.reason}`);
        deadLetters.push(r.value);
      } else {
        const r = parseMessage(CommandResultMessageSchema, message.value);
        if (!r.ok) throw new Error(`bad result: ${r.reason}`);
        expect(message.key?.toString()).toBe(r.value.rolloutId);
        results.push(r.value);
      }
    },
  });

  // Kubernetes: a namespace with a 2-pod ingester zone and a 1-pod store-gateway zone.
  await kube.core.createNamespace({
    body: { metadata: { name: ns, labels: { 'ringmaster.dev/test': 'executor-int' } } },
  });
  const objects = KubernetesObjectApi.makeApiClient(kube.kc);
  await objects.create(statefulSet('ingester', 'zone-a', 2));
  await objects.create(statefulSet('store-gateway', 'zone-a', 1));
  await Promise.all(
    ['mimir-ingester-zone-a-0', 'mimir-ingester-zone-a-1', 'mimir-store-gateway-zone-a-0'].map(
      readyPod,
    ),
  );

  const t0 = Date.now();
  await startExecutor('executor-1');
  // Make sure the executor reads each partition we use, by sending harmless restarts of a pod
  // that does not exist until their results come back.
  await waitFor('warm-up results on both partitions', async () => {
    const ids = [clusterA, clusterB].map((c) => restartPod(c, 'no-such-pod', 'none'));
    for (const cmd of ids) await send(cmd);
    await new Promise((r) => setTimeout(r, 1500));
    return ids.every((c) => resultsOf(c.id).some((r) => r.outcome === 'already-done'));
  });
  console.log(`executor ready and warmed up in ${Date.now() - t0} ms`);
});

afterAll(async () => {
  await app?.close();
  await reader?.disconnect();
  await producer?.disconnect();
  if (admin) {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine });
    await admin.deleteGroups([`${run}-executors`, `${run}-reader`]).catch(() => undefined);
    await admin.disconnect();
  }
  await kube?.core
    .deleteNamespace({ name: ns, body: { propagationPolicy: 'Background', gracePeriodSeconds: 0 } })
    .catch(() => undefined);
});

// ------------------------------------------------------------------ tests

describe('executor against Kafka and kwok', () => {
  let restart: Command;
  let oldUid: string;
  let firstResult: CommandResultMessage;

  it('healthz and readyz', async () => {
    await request(app!.getHttpServer())
      .get('/healthz')
      .expect(200, { status: 'ok', service: 'executor' });
    await request(app!.getHttpServer()).get('/readyz').expect(200, { status: 'ready' });
  });

  it('(1) apply-template, then restart-pod with the current uid: pod replaced at the new revision, results done', async () => {
    const t0 = Date.now();
    const sts = 'mimir-ingester-zone-a';
    const apply: Command = {
      kind: 'apply-template',
      id: `${run}:${++seq}`,
      rolloutId: run,
      target: { cluster: clusterA, namespace: ns },
      workload: sts,
      change: { kind: 'image', image: 'grafana/mimir:2.15.0' },
      takeOver: false,
    };
    await send(apply);
    const applied = await finalOf(apply.id);
    expect(applied).toMatchObject({
      outcome: 'done',
      target: { cluster: clusterA, namespace: ns },
      executor: `${run}-executor-1`,
    });
    expect(applied.generation).toBeGreaterThanOrEqual(2);
    // OnDelete: nothing restarted by the template change alone.
    const before = await readyPod(`${sts}-0`);
    expect(before.spec?.containers[0].image).toBe('grafana/mimir:2.14.0');

    oldUid = before.metadata!.uid!;
    restart = restartPod(clusterA, `${sts}-0`, oldUid);
    await send(restart);
    firstResult = await finalOf(restart.id);
    expect(firstResult).toMatchObject({ outcome: 'done', rolloutId: run });
    expect(firstResult.detail).toMatch(/evicted \(uid /);
    expect(firstResult.at).toBeGreaterThanOrEqual(applied.at);

    const after = await waitFor('the pod replaced', async () => {
      const p = await readyPod(`${sts}-0`);
      return p.metadata!.uid !== oldUid ? p : undefined;
    });
    const set = await kube.apps.readNamespacedStatefulSet({ name: sts, namespace: ns });
    expect(after.spec?.containers[0].image).toBe('grafana/mimir:2.15.0');
    expect(after.metadata?.labels?.[LABEL_CONTROLLER_REVISION]).toBe(set.status?.updateRevision);
    console.log(`(1) template applied and pod replaced in ${Date.now() - t0} ms`);
  });

  it('(2) the same restart again: re-published from memory; re-issued with the old uid: already-done; never restarted twice', async () => {
    const uidNow = (await readyPod(restart.kind === 'restart-pod' ? restart.pod : '')).metadata!
      .uid!;
    const runs = executor.handler.stats().runs;

    // The same message again (a redelivery): the same result, Kubernetes not asked.
    await send(restart);
    await waitFor('the result re-published', () => resultsOf(restart.id).length >= 2);
    expect(resultsOf(restart.id)[1]).toEqual(firstResult);
    expect(executor.handler.stats()).toMatchObject({ runs, redelivered: 1 });

    // What an executor without that memory sees (another instance after a rebalance, or a
    // planner that re-issued the restart): the uid no longer matches -> already-done.
    const again = restartPod(clusterA, 'mimir-ingester-zone-a-0', oldUid);
    await send(again);
    const r = await finalOf(again.id);
    expect(r.outcome).toBe('already-done');
    expect(r.detail).toMatch(new RegExp(`was replaced \\(uid ${uidNow}, command for ${oldUid}\\)`));

    await new Promise((res) => setTimeout(res, 1000));
    const still = await kube.core.readNamespacedPod({
      name: 'mimir-ingester-zone-a-0',
      namespace: ns,
    });
    expect(still.metadata!.uid).toBe(uidNow);
    expect(still.metadata!.deletionTimestamp).toBeUndefined();
  });

  it('(3) a malformed message is dead-lettered with the reason; the next command is still processed; an unknown cluster fails', async () => {
    await producer.send({
      topic: config.kafka.topics.commands,
      messages: [{ key: clusterA, value: '{"v":1,"type":"rollout.command","kind":' }],
    });
    const after = restartPod(clusterA, 'mimir-store-gateway-zone-a-9', 'none');
    await send(after);
    expect(await finalOf(after.id)).toMatchObject({ outcome: 'already-done' });
    const dl = await waitFor('the dead letter', () =>
      deadLetters.find((d) => /^invalid JSON/.test(d.reason)),
    );
    expect(dl).toMatchObject({
      sourceTopic: config.kafka.topics.commands,
      key: clusterA,
      consumerGroup: `${run}-executors`,
      payload: '{"v":1,"type":"rollout.command","kind":',
    });

    const nowhere = restartPod('nowhere', 'x', 'y');
    await send(nowhere);
    expect(await finalOf(nowhere.id)).toMatchObject({
      outcome: 'failed',
      detail: `unknown cluster "nowhere": this executor reaches ${clusterA}, ${clusterB} (RINGMASTER_CONTEXTS)`,
    });
    await waitFor('the unknown cluster dead letter', () =>
      deadLetters.find((d) => d.key === 'nowhere' && /unknown cluster "nowhere"/.test(d.reason)),
    );
  });

  it('(4) a restart held by a PDB: refused while retrying, other clusters unaffected; survives a shutdown; done once relaxed', async () => {
    const t0 = Date.now();
    await KubernetesObjectApi.makeApiClient(kube.kc).create({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: PDB, namespace: ns },
      spec: { minAvailable: 2, selector: { matchLabels: { [LABEL_NAME]: 'ingester-zone-a' } } },
    } as KubernetesObject);
    await readyPod('mimir-ingester-zone-a-0');
    const target = await readyPod('mimir-ingester-zone-a-1');
    await waitFor('PDB disruptionsAllowed 0', async () => {
      const p = await kube.policy.readNamespacedPodDisruptionBudget({ name: PDB, namespace: ns });
      return p.status?.currentHealthy === 2 && p.status?.disruptionsAllowed === 0;
    });

    const held = restartPod(clusterA, 'mimir-ingester-zone-a-1', target.metadata!.uid!);
    const where = await send(held);
    await waitFor('two refusals', () => resultsOf(held.id).length >= 2);
    for (const r of resultsOf(held.id)) {
      expect(r).toMatchObject({ outcome: 'refused', executor: `${run}-executor-1` });
      expect(r.detail).toMatch(
        /retrying for up to \d+ s more: Cannot evict pod .*disruption budget/,
      );
    }

    // Cluster B's partition keeps flowing while A's restart waits for the budget.
    const sg = await readyPod('mimir-store-gateway-zone-a-0');
    const other = restartPod(clusterB, 'mimir-store-gateway-zone-a-0', sg.metadata!.uid!);
    await send(other);
    expect(await finalOf(other.id)).toMatchObject({ outcome: 'done' });
    expect(resultsOf(held.id).every((r) => r.outcome === 'refused')).toBe(true);
    const refusedBeforeB = resultsOf(held.id).length;

    // SIGTERM now (app.close runs the same hooks): the held command is not committed, so the
    // next executor of the group picks it up. Its memory is empty: it asks Kubernetes again.
    await app!.close();
    app = undefined;
    expect(await committed(config.kafka.topics.commands, where.partition)).toBe(where.offset);
    const beforeRestart = resultsOf(held.id).length;
    await startExecutor('executor-2');
    await waitFor('a refusal from the second executor', () =>
      resultsOf(held.id)
        .slice(beforeRestart)
        .some((r) => r.outcome === 'refused' && r.executor === `${run}-executor-2`),
    );

    await setMinAvailable(1);
    const done = await waitFor('the held restart done', () =>
      resultsOf(held.id).find((r) => r.outcome === 'done'),
    );
    expect(done.executor).toBe(`${run}-executor-2`);
    expect(done.detail).toMatch(/evicted \(uid .*\)/);
    await waitFor('the held pod replaced', async () => {
      const p = await readyPod('mimir-ingester-zone-a-1');
      return p.metadata!.uid !== target.metadata!.uid;
    });
    console.log(
      `(4) ${resultsOf(held.id).length - 1} refusal(s) (${refusedBeforeB} before cluster B's restart was done; executor-1 stopped mid-retry, executor-2 finished), done ${Date.now() - t0} ms after the PDB appeared`,
    );
  });

  it('graceful shutdown: every handled command committed, then the app closes', async () => {
    const t0 = Date.now();
    await app!.close();
    app = undefined;
    console.log(`shutdown in ${Date.now() - t0} ms`);
    const topic = config.kafka.topics.commands;
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: `${run}-executors`, topics: [topic] });
    for (const end of ends.filter((e) => e.high !== '0')) {
      const c = committed.partitions.find((p) => p.partition === end.partition);
      expect({ partition: end.partition, offset: c?.offset }).toEqual({
        partition: end.partition,
        offset: end.high,
      });
    }
  });
});
