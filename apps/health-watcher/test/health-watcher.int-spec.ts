/**
 * The health watcher against a real kwok control plane and a real Kafka
 * (`scripts/cluster.sh up --clusters 1`, `scripts/infra.sh up`; see watcher-test.env.ts).
 *
 * The Nest app runs in-process, watching a namespace of its own with the monolithic fixture
 * (StatefulSet `mimir`, 3 pods, component `all`, so probed) and a one-replica Deployment, and
 * probing `/ready` through the ready stub (test/support/ready-stub, 200 once a pod has been
 * Ready for 2 s). A consumer of our own reads both topics from the beginning and checks:
 *   1. every pod and workload appears, keyed cluster/namespace/name, with its uid; the
 *      Deployment carries its ReplicaSet's pod-template-hash as updateRevision;
 *   2. evicting a pod gives a tombstone for it, then the new pod (new uid) NotReady -> Ready;
 *   3. that pod's probe goes 'failing'/'unknown' -> 'ok' no sooner than the stub's delay;
 *   4. a Deployment roll re-publishes the Deployment with the new revision;
 *   5. a second watcher started after the Deployment was deleted (while none ran)
 *      tombstones it and its pod, from the read-back of the topics.
 */
import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { clusterObjectKey } from '@ringmaster/contracts';
import { loadClusters, type KubeClusterClients } from '@ringmaster/kube';
import { createKafka, ensureTopics, kafkaConfigFromEnv } from '@ringmaster/messaging';
import { startReadyStub, type ReadyStub } from '../../../test/support/ready-stub/ready-stub.server';
import { HealthWatcherModule } from '../src/health-watcher.module';
import { HealthWatcherService } from '../src/health-watcher.service';
import {
  HEALTH_WATCHER_CONFIG,
  healthWatcherConfigFromEnv,
  type HealthWatcherConfig,
} from '../src/watcher.config';
import {
  StateLog,
  createAll,
  deleteNamespace,
  gatewayDeployment,
  randomSuffix,
  recordStateTopics,
  renderMonolithic,
  testContextEntry,
  testKubeconfig,
  waitFor,
} from './watcher-test.env';

jest.setTimeout(180_000);

const STUB_DELAY_MS = 2000;
const run = `hw-it-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
const prefix = `${run}.`;
const ns = `hw-${randomSuffix()}`;
const kubeconfig = testKubeconfig();
const { entry, name: cluster, context } = testContextEntry();
const key = (name: string) => clusterObjectKey(cluster, ns, name);

let c: KubeClusterClients;
let kafka: Kafka;
let admin: Admin;
let consumer: Consumer;
let log: StateLog;
let stub: ReadyStub;
let config: HealthWatcherConfig;
const apps: INestApplication[] = [];
const t0 = Date.now();
const timings: Record<string, number> = {};
const mark = (what: string) => (timings[what] = Date.now() - t0);

async function startWatcher(): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({ imports: [HealthWatcherModule] })
    .overrideProvider(HEALTH_WATCHER_CONFIG)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  await app.init();
  apps.push(app);
  return app;
}

async function stopWatcher(app: INestApplication): Promise<void> {
  apps.splice(apps.indexOf(app), 1);
  await app.close();
}

async function listPods(selector?: string): Promise<V1Pod[]> {
  return (await c.core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
}

beforeAll(async () => {
  c = [...loadClusters({ kubeconfigPath: kubeconfig, contexts: [entry] }).values()][0];
  await createAll(c, [...renderMonolithic(ns), gatewayDeployment(ns)]);

  const settings = kafkaConfigFromEnv({
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:19092',
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_LOG_LEVEL: 'error',
  });
  kafka = createKafka(settings);
  admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { prefix });
  ({ log, consumer } = await recordStateTopics(kafka, settings.topics, `${run}-reader`));

  stub = await startReadyStub({ kubeconfig, context, delayMs: STUB_DELAY_MS, namespace: ns });
  await stub.synced;

  config = healthWatcherConfigFromEnv({
    KAFKA_BROKERS: settings.brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_LOG_LEVEL: 'error',
    KUBECONFIG: kubeconfig,
    RINGMASTER_CONTEXTS: entry,
    RINGMASTER_NAMESPACES: ns,
    RINGMASTER_READY_PROBE_URL: stub.probeUrlTemplate,
    RINGMASTER_READY_PROBE_INTERVAL_MS: '250',
  });
  mark('setup');
});

afterAll(async () => {
  for (const app of [...apps]) await app.close();
  await stub?.close();
  await consumer?.disconnect();
  if (admin) {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine });
    await admin.deleteGroups([`${run}-reader`]).catch(() => undefined);
    await admin.disconnect();
  }
  if (c) await deleteNamespace(c, ns);
  // Timings of this run, for the record (README).
  console.log(`health-watcher int timings (ms since start): ${JSON.stringify(timings)}`);
});

describe('health watcher on kwok + Kafka', () => {
  let app: INestApplication;

  it('serves /healthz at once and /readyz 200 once every watch synced and Kafka is connected', async () => {
    app = await startWatcher();
    const http = app.getHttpServer();
    await request(http).get('/healthz').expect(200, { status: 'ok', service: 'health-watcher' });
    await waitFor('/readyz 200', async () => (await request(http).get('/readyz')).status === 200);
    const body = (await request(http).get('/readyz')).body as {
      missing: string[];
      watches: unknown[];
    };
    expect(body.missing).toEqual([]);
    expect(body.watches).toHaveLength(4);
    mark('ready');
  });

  it('publishes every pod and workload, keyed cluster/namespace/name', async () => {
    const pods = await waitFor('4 pods Running', async () => {
      const p = await listPods();
      return p.length === 4 && p.every((x) => x.status?.podIP) && p;
    });
    for (const p of pods) {
      const k = key(p.metadata!.name!);
      await waitFor(`a message for ${k}`, () =>
        log.podsOf(k).some((m) => m.value?.uid === p.metadata!.uid),
      );
    }
    const sts = await waitFor('workload mimir', () => log.lastWorkload(key('mimir'))?.value);
    expect(sts).toMatchObject({
      cluster,
      namespace: ns,
      name: 'mimir',
      kind: 'StatefulSet',
      component: 'all',
      updateStrategy: 'OnDelete',
      replicas: 3,
    });
    const rs = (await c.apps.listNamespacedReplicaSet({ namespace: ns })).items;
    const hash = rs[0].metadata!.labels!['pod-template-hash'];
    const gw = await waitFor(
      'workload mimir-gateway',
      () => log.lastWorkload(key('mimir-gateway'))?.value,
    );
    expect(gw).toMatchObject({ kind: 'Deployment', component: 'gateway', updateRevision: hash });
    expect(log.invalid).toEqual([]);
    const mono = log.lastPod(key('mimir-0'))!.value!;
    expect(mono).toMatchObject({ v: 1, type: 'cluster.pod', workload: 'mimir', component: 'all' });
    expect(typeof mono.resourceVersion).toBe('string');
    mark('all published');
  });

  it('monolithic pods are probed through the stub and reach ok', async () => {
    for (const i of [0, 1, 2])
      await waitFor(
        `mimir-${i} probe ok`,
        () => log.lastPod(key(`mimir-${i}`))?.value?.probe === 'ok',
      );
    // The gateway is not a probed component: no probe field at all.
    const gwPod = (await listPods('app.kubernetes.io/component=gateway'))[0];
    expect(log.lastPod(key(gwPod.metadata!.name!))?.value).not.toHaveProperty('probe');
    mark('probes ok');
  });

  it('an evicted pod: tombstone, then a new uid NotReady -> Ready, probe -> ok after the stub delay', async () => {
    const k = key('mimir-1');
    const old = log.lastPod(k)!.value!;
    const from = log.pods.length;
    await c.core.createNamespacedPodEviction({
      name: 'mimir-1',
      namespace: ns,
      body: { metadata: { name: 'mimir-1', namespace: ns } },
    });
    const evictedAt = Date.now();
    await waitFor(
      'the new mimir-1 with probe ok',
      () =>
        log.pods
          .slice(from)
          .some((m) => m.key === k && m.value?.uid !== old.uid && m.value?.probe === 'ok'),
      60_000,
    );
    mark('evicted pod back and ok');
    const after = log.pods.slice(from).filter((m) => m.key === k);
    const tomb = after.findIndex((m) => m.value === null);
    expect(tomb).toBeGreaterThanOrEqual(0);
    // Before the tombstone: only the old incarnation (terminating). After: only the new one.
    expect(after.slice(0, tomb).every((m) => m.value!.uid === old.uid)).toBe(true);
    const fresh = after.slice(tomb + 1).map((m) => m.value!);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((v) => v.uid !== old.uid)).toBe(true);
    expect(new Set(fresh.map((v) => v.uid)).size).toBe(1);
    // One key, one partition: what we read is the order it was written in.
    for (let i = 1; i < after.length; i++) expect(after[i].offset > after[i - 1].offset).toBe(true);

    const firstReady = fresh.findIndex((v) => v.ready);
    expect(firstReady).toBeGreaterThan(0); // some NotReady message came first
    expect(fresh.slice(0, firstReady).every((v) => !v.ready && v.probe === 'failing')).toBe(true);
    const okAt = fresh.findIndex((v) => v.probe === 'ok');
    expect(okAt).toBeGreaterThan(firstReady);
    // Between Ready and ok, /ready was not 200 yet: 'unknown' (not asked) or 'failing' (503).
    expect(
      fresh
        .slice(firstReady, okAt)
        .every((v) => v.ready && (v.probe === 'unknown' || v.probe === 'failing')),
    ).toBe(true);
    expect(fresh.slice(firstReady, okAt).some((v) => v.probe === 'failing')).toBe(true);
    // ok no sooner than the stub's delay after the pod turned Ready (the watcher saw it Ready
    // no later than the stub did; 100 ms of slack for the two watches' delivery).
    expect(fresh[okAt].observedAt - fresh[firstReady].observedAt).toBeGreaterThanOrEqual(
      STUB_DELAY_MS - 100,
    );
    timings['eviction -> ok (ms)'] = fresh[okAt].observedAt - evictedAt;
  });

  it('a Deployment roll re-publishes the Deployment with the new ReplicaSet hash', async () => {
    const k = key('mimir-gateway');
    const before = log.lastWorkload(k)!.value!.updateRevision;
    await c.apps.patchNamespacedDeployment(
      {
        name: 'mimir-gateway',
        namespace: ns,
        body: {
          spec: { template: { metadata: { annotations: { 'ringmaster.dev/restarted-by': run } } } },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const rev = await waitFor('a new updateRevision', () => {
      const r = log.lastWorkload(k)?.value?.updateRevision;
      return r !== before && r;
    });
    const rs = (await c.apps.listNamespacedReplicaSet({ namespace: ns })).items;
    const newest = rs.sort(
      (a, b) =>
        Number(b.metadata!.annotations!['deployment.kubernetes.io/revision']) -
        Number(a.metadata!.annotations!['deployment.kubernetes.io/revision']),
    )[0];
    expect(rev).toBe(newest.metadata!.labels!['pod-template-hash']);
    mark('deployment revision');
  });

  it('a watcher started after objects vanished tombstones them from the read-back of the topics', async () => {
    const service = app.get(HealthWatcherService);
    expect(await service.flush(10_000)).toBe(true);
    await stopWatcher(app);
    const gwPods = (await listPods('app.kubernetes.io/component=gateway')).map(
      (p) => p.metadata!.name!,
    );
    expect(gwPods.length).toBeGreaterThan(0);
    const from = log.pods.length;
    const fromW = log.workloads.length;
    await c.apps.deleteNamespacedDeployment({
      name: 'mimir-gateway',
      namespace: ns,
      body: { propagationPolicy: 'Background' },
    });
    await waitFor(
      'gateway pods gone',
      async () => (await listPods('app.kubernetes.io/component=gateway')).length === 0,
    );
    // Nobody watched: nothing was published.
    expect(log.pods.length).toBe(from);

    app = await startWatcher();
    await waitFor('tombstone for the Deployment', () =>
      log.workloads.slice(fromW).some((m) => m.key === key('mimir-gateway') && m.value === null),
    );
    for (const p of gwPods)
      await waitFor(`tombstone for ${p}`, () =>
        log.pods.slice(from).some((m) => m.key === key(p) && m.value === null),
      );
    // The monolithic pods were re-published from the new watcher's first list, not tombstoned.
    for (const i of [0, 1, 2])
      expect(
        log.pods.slice(from).some((m) => m.key === key(`mimir-${i}`) && m.value === null),
      ).toBe(false);
    mark('restart read-back');
  });
});
