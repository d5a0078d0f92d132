/**
 * Shared by the process and message chaos specs (not a spec itself): one stack per spec file
 * with a fixture namespace per case, and a ChaosCase that runs the independent checks every
 * case makes and records them (test/support/chaos.report.ts):
 *
 *  - violations: instants the availability observer (its own watch, its own limits) saw more
 *    pods of a component or zone unavailable than allowed;
 *  - double restarts: pods deleted although they were created during the case (a replacement
 *    restarted again: StatefulSet pods and Deployment pods alike), from the test's own watch.
 *    Forced deletions (no grace period: kwok v0.8.0 replaying its delete stage by name on a
 *    replacement, see TimelineEvent.forced) are not Ringmaster's: they are recorded apart
 *    (`forcedDeletes`) and their availability cost still counts in the observer's limits;
 *  - lost: the rollout row (Postgres and GET), its audit trail (GET /v1/rollouts/{id}/events:
 *    started and the final status, a `restart` event for each pod of a restart command and a
 *    command for each pod a `restart` event names, a `roll` event for each Deployment rolled),
 *    and every command of the rollout in the outbox table: sent, on `rollout.commands`, and
 *    answered on `rollout.command-results`. Each missing piece counts one.
 *
 * Faults are timed by a seeded generator (RINGMASTER_CHAOS_SEED, random when unset and printed),
 * so a failing run can be repeated.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { Consumer, Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { AvailabilityObserver, type ObserverReport } from '../support/availability.observer';
import { recordChaosCase } from '../support/chaos.report';
import { deleteNamespace, ensureClusters, type Stack } from '../support/stack';
import {
  SETTLED,
  groupAssignment,
  partitionOf,
  postWhenObserved,
  progressLine,
  sleep,
  startE2eStack,
  statefulSetPodNames,
  testKafka,
  PodTimeline,
  type RolloutView,
  type TimelineEvent,
} from '../e2e/e2e.helpers';

/** The seed of this run's fault timings. */
export const CHAOS_SEED = Number(
  process.env.RINGMASTER_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31),
);

/** mulberry32: a small deterministic generator in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A message as the test's own consumers keep it. */
export interface Seen {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Follows `topics` from the beginning into arrays the test reads (own group, no commits). */
export async function follow(
  kafka: Kafka,
  groupId: string,
  topics: string[],
  onMessage?: (topic: string, m: Seen) => Promise<void> | void,
): Promise<{ consumer: Consumer; seen: Map<string, Seen[]> }> {
  const seen = new Map<string, Seen[]>(topics.map((t) => [t, []]));
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic, partition, message }) => {
      const m: Seen = {
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        headers: Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
        ),
        partition,
        offset: message.offset,
      };
      seen.get(topic)!.push(m);
      await onMessage?.(topic, m);
    },
  });
  return { consumer, seen };
}

export interface ChaosEnvOptions {
  /** runName(): topic prefix, schema, and the first case's namespace. */
  name: string;
  plannerPort: number;
  /** Case names; each gets its own namespace with the fixture (the first: `name` itself). */
  cases: string[];
  /** Recorded as `<label>.<case>` (the spec's short name: case names repeat across specs). */
  label: string;
  executors?: string[];
}

/**
 * The services' consumer group session in the chaos stacks: a member killed without leaving
 * hands its partitions over after this long (KAFKA_SESSION_TIMEOUT_MS; the default 30 s would
 * spend half a minute per kill waiting).
 */
export const CHAOS_SESSION_TIMEOUT_MS = 6_000;

/** One stack for a spec file: services, a Kafka client, the topics' followers. */
export class ChaosEnv {
  readonly namespaces: Record<string, string> = {};
  stack!: Stack;
  kubeconfig!: string;
  context!: string;
  kafka!: Kafka;
  executors: string[] = [];
  /** Cases begun and not finished (a failed one): their watches are stopped with the env. */
  readonly active = new Set<ChaosCase>();
  private followers: Consumer[] = [];
  private commands_!: Seen[];
  private results_!: Seen[];

  constructor(readonly o: ChaosEnvOptions) {
    o.cases.forEach((c, i) => (this.namespaces[c] = i === 0 ? o.name : `${o.name}-${c}`));
  }

  get topics() {
    const p = `${this.o.name}.`;
    return {
      commands: `${p}rollout.commands`,
      results: `${p}rollout.command-results`,
      pods: `${p}cluster.pods`,
    };
  }

  async start(): Promise<void> {
    this.executors = this.o.executors ?? ['executor-1'];
    const ns = Object.values(this.namespaces);
    // Known before the stack starts, so stop() removes the namespaces even if the start fails.
    ({
      kubeconfig: this.kubeconfig,
      contexts: [this.context],
    } = ensureClusters(1));
    let brokers: string;
    ({
      stack: this.stack,
      kafkaBrokers: brokers,
      kubeconfig: this.kubeconfig,
      contexts: [this.context],
    } = await startE2eStack({
      name: this.o.name,
      plannerPort: this.o.plannerPort,
      executors: this.executors,
      moreNamespaces: ns.slice(1),
      env: { KAFKA_SESSION_TIMEOUT_MS: String(CHAOS_SESSION_TIMEOUT_MS) },
    }));
    this.kafka = testKafka(brokers, `${this.o.name}-test`);
    const f = await follow(this.kafka, `${this.o.name}-test-follow`, [
      this.topics.commands,
      this.topics.results,
    ]);
    this.followers.push(f.consumer);
    this.commands_ = f.seen.get(this.topics.commands)!;
    this.results_ = f.seen.get(this.topics.results)!;
    // Every executor a member before the first rollout (the cases kill the one holding the
    // cluster; a case must not start while the group is still forming).
    await this.executorOfCluster();
  }

  /** Messages seen so far on rollout.commands / rollout.command-results. */
  get commands(): Seen[] {
    return this.commands_;
  }
  get results(): Seen[] {
    return this.results_;
  }

  /** Another follower (a duplicator, say); stopped with the env. */
  async follow(
    groupSuffix: string,
    topics: string[],
    onMessage?: (topic: string, m: Seen) => Promise<void> | void,
  ): Promise<Map<string, Seen[]>> {
    const f = await follow(this.kafka, `${this.o.name}-test-${groupSuffix}`, topics, onMessage);
    this.followers.push(f.consumer);
    return f.seen;
  }

  /** The executor holding the commands partition of this env's cluster (group stable). */
  async executorOfCluster(): Promise<string> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const held = await groupAssignment(
        admin,
        `${this.o.name}-executor`,
        this.topics.commands,
        this.executors.length,
      );
      const p = await partitionOf(admin, this.topics.commands, this.context);
      return [...held].find(([, ps]) => ps.includes(p))![0];
    } finally {
      await admin.disconnect();
    }
  }

  startExecutor(id: string): void {
    this.stack.start('executor', id, { KAFKA_CLIENT_ID: id });
  }

  async restartPlanner(): Promise<void> {
    this.stack.start('planner');
    await this.stack.waitReady();
  }

  async stop(): Promise<void> {
    for (const c of this.active) c.abandon();
    for (const c of this.followers) await c.disconnect().catch(() => undefined);
    // A service frozen by a case that failed would never see the SIGTERM.
    for (const id of this.stack?.services() ?? []) this.stack.signal(id, 'SIGCONT');
    await this.stack?.dispose();
    if (this.kubeconfig)
      for (const ns of Object.values(this.namespaces))
        deleteNamespace(this.kubeconfig, this.context, ns);
  }
}

export interface CaseOutcome {
  report: ObserverReport;
  finals: RolloutView[];
  violations: number;
  doubleRestarts: number;
  lost: number;
  /** What was lost, in words. */
  missing: string[];
  /** Commands issued twice for one pod uid or one workload (re-issued after a restart, say). */
  reissued: string[];
  stsPods: string[];
  /** StatefulSet pod -> graceful deletions (evictions) seen by the test's own watch. */
  restarts: Record<string, number>;
  /** Forced deletions (kwok's), `pod uid`. */
  forcedDeletes: string[];
  seconds: number;
}

/**
 * One case: the observer and the test's own pod watch run from before the rollout is created
 * until it settles; then the checks of the file comment, recorded under `name`.
 */
export class ChaosCase {
  readonly namespace: string;
  readonly stsPods: string[];
  readonly observer: AvailabilityObserver;
  readonly timeline: PodTimeline;
  readonly ids: string[] = [];
  private readonly listeners: ((e: TimelineEvent) => void)[] = [];
  private t0 = 0;

  constructor(
    readonly env: ChaosEnv,
    readonly name: string,
  ) {
    this.namespace = env.namespaces[name];
    this.stsPods = statefulSetPodNames(env.kubeconfig, env.context, this.namespace);
    this.observer = new AvailabilityObserver(env.kubeconfig, env.context, this.namespace);
    this.timeline = new PodTimeline(env.kubeconfig, env.context, this.namespace, (e) => {
      for (const l of this.listeners) l(e);
    });
  }

  /** Calls `f` at each event of the test's own pod watch, as it arrives. */
  onPodEvent(f: (e: TimelineEvent) => void): void {
    this.listeners.push(f);
  }

  /** Resolves at the first original StatefulSet pod that starts terminating (an eviction went through). */
  nextEviction(after = 0): Promise<TimelineEvent> {
    return new Promise((resolve) => {
      const seen = this.timeline.events.filter(
        (e) => e.what === 'deleting' && !e.forced && this.stsPods.includes(e.pod),
      );
      if (seen.length > after) return resolve(seen[after]);
      let n = seen.length;
      this.onPodEvent((e) => {
        if (e.what !== 'deleting' || e.forced || !this.stsPods.includes(e.pod)) return;
        if (n++ === after) resolve(e);
      });
    });
  }

  async begin(): Promise<void> {
    this.env.active.add(this);
    await this.observer.start();
    await this.timeline.start();
    this.t0 = Date.now();
  }

  /** Stops the watches of a case that will not finish (its test failed). */
  abandon(): void {
    this.observer.stop();
    this.timeline.stop();
    this.env.active.delete(this);
  }

  /** The next time `pod` starts terminating, within `timeoutMs` (undefined if it does not). */
  terminating(pod: string, timeoutMs: number): Promise<TimelineEvent | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        resolve(undefined);
      }, timeoutMs);
      this.onPodEvent((e) => {
        if (done || e.pod !== pod || e.what !== 'deleting' || e.forced) return;
        done = true;
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  /** A restart of the case's namespace; returns the rollout id. */
  async createRollout(): Promise<string> {
    const r = await postWhenObserved<RolloutView>(this.env.stack, {
      targets: [{ cluster: this.env.context, namespace: this.namespace }],
      change: { kind: 'restart' },
    });
    if (r.status !== 201)
      throw new Error(`POST /v1/rollouts answered ${r.status}: ${JSON.stringify(r.body)}`);
    this.ids.push(r.body.id);
    return r.body.id;
  }

  /** Status of a rollout now (undefined while the planner does not answer). */
  async status(id: string): Promise<string | undefined> {
    const r = await this.env.stack.api<RolloutView>(`/v1/rollouts/${id}`).catch(() => undefined);
    return r?.status === 200 ? r.body.status : undefined;
  }

  /**
   * Waits until every rollout of the case settles, then checks and records; `detail` (the
   * faults injected) is read after the checks, when results have come in.
   */
  async finish(
    detail: () => Record<string, unknown> = () => ({}),
    // Long: on kwok an eviction is sometimes followed by 2 minutes of PDB refusals for the
    // next pod (the disruption controller keeps the evicted pod's name in disruptedPods when
    // the StatefulSet recreated it before the controller saw it terminate; 200 ms on kwok).
    timeoutMs = 420_000,
  ): Promise<CaseOutcome> {
    const finals: RolloutView[] = [];
    for (const id of this.ids)
      finals.push(await this.env.stack.waitRollout<RolloutView>(id, settled, timeoutMs));
    const seconds = (Date.now() - this.t0) / 1000;
    // The last replacements turn Ready after the status is read; let the watches see them.
    await sleep(1500);
    const report = this.observer.stop();
    const events = this.timeline.stop();
    this.env.active.delete(this);
    const created = new Set(events.filter((e) => e.what === 'created').map((e) => e.uid));
    const deletions = events.filter((e) => e.what === 'deleting' && !e.forced);
    const forcedDeletes = events
      .filter((e) => e.what === 'deleting' && e.forced)
      .map((e) => `${e.pod} ${e.uid}`);
    const replacedAgain = deletions.filter((e) => created.has(e.uid));
    const doubleRestarts = replacedAgain.length;
    const restarts: Record<string, number> = {};
    for (const e of deletions)
      if (this.stsPods.includes(e.pod)) restarts[e.pod] = (restarts[e.pod] ?? 0) + 1;
    const { missing, reissued } = await waitNothingLost(this.env, this.ids);
    const out: CaseOutcome = {
      report,
      finals,
      violations: report.violations.length,
      doubleRestarts,
      lost: missing.length,
      missing,
      reissued,
      stsPods: this.stsPods,
      restarts,
      forcedDeletes,
      seconds,
    };
    for (const f of finals)
      console.log(`${this.name}: ${f.status} in ${seconds}s; ${progressLine(f)}`);
    console.log(
      `${this.name}: observer maxUnavailable ${JSON.stringify(report.maxUnavailable)} deletions ${JSON.stringify(report.deletions)} originals ${report.originalsDeleted}/${report.originals}; violations ${out.violations}, double restarts ${doubleRestarts}${replacedAgain.length ? ` (${replacedAgain.map((e) => e.pod).join(', ')})` : ''}, lost ${out.lost}${missing.length ? `: ${missing.join('; ')}` : ''}${forcedDeletes.length ? `; forced deletions (kwok): ${forcedDeletes.join(', ')}` : ''}`,
    );
    recordChaosCase({
      case: `${this.env.o.label}.${this.name}`,
      rollouts: this.ids.length,
      violations: out.violations,
      doubleRestarts,
      lost: out.lost,
      detail: {
        seed: CHAOS_SEED,
        seconds,
        statuses: finals.map((f) => f.status),
        maxUnavailable: report.maxUnavailable,
        violations: report.violations,
        missing,
        reissued,
        forcedDeletes,
        ...detail(),
      },
    });
    return out;
  }
}

/**
 * The assertions every case makes, after it recorded its counts: no violation, every
 * StatefulSet pod restarted (gracefully deleted) exactly once and every original pod replaced,
 * no double restart, nothing lost, every rollout succeeded.
 */
export function expectCaseClean(o: CaseOutcome): void {
  expect(o.report.violations).toEqual([]);
  expect(Object.keys(o.restarts).sort()).toEqual(o.stsPods);
  expect(Object.entries(o.restarts).filter(([, n]) => n !== 1)).toEqual([]);
  expect(o.report.originalsDeleted).toBe(o.report.originals);
  expect(o.doubleRestarts).toBe(0);
  expect(o.missing).toEqual([]);
  expect(o.reissued).toEqual([]);
  expect(o.finals.map((f) => f.status)).toEqual(o.finals.map(() => 'succeeded'));
}

/**
 * Terminal, or blocked with nothing running any more: a blocked rollout's other components go
 * on, and the case checks what they did too.
 */
function settled(r: RolloutView): boolean {
  if (!SETTLED.includes(r.status)) return false;
  return (
    r.status !== 'blocked' ||
    r.targetProgress.every((t) => t.components.every((c) => c.status !== 'running'))
  );
}

interface CommandRow {
  id: string;
  kind: string;
  pod?: string;
  workload?: string;
  rolloutId: string;
}

/** The missing pieces (see the file comment); results may trail the status, so it retries a while. */
async function waitNothingLost(
  env: ChaosEnv,
  ids: string[],
  timeoutMs = 20_000,
): Promise<{ missing: string[]; reissued: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await whatIsLost(env, ids);
    if (r.missing.length === 0 || Date.now() > deadline) return r;
    await sleep(500);
  }
}

async function whatIsLost(
  env: ChaosEnv,
  ids: string[],
): Promise<{ missing: string[]; reissued: string[] }> {
  const missing: string[] = [];
  const reissued: string[] = [];
  const schema = String(env.stack.base.DATABASE_SCHEMA);
  const db = new DataSource({
    type: 'postgres',
    url: String(env.stack.base.DATABASE_URL),
    poolSize: 1,
  });
  await db.initialize();
  let rows: { id: string }[];
  let outbox: { payload: CommandRow & { uid?: string }; sent_at: Date | null }[];
  try {
    rows = await db.query(`SELECT id FROM "${schema}".rollouts WHERE id = ANY($1)`, [ids]);
    outbox = await db.query(
      `SELECT payload, sent_at FROM "${schema}".outbox WHERE topic = $1 AND payload->>'rolloutId' = ANY($2) ORDER BY id`,
      [env.topics.commands, ids],
    );
  } finally {
    await db.destroy();
  }
  const onTopic = new Set(env.commands.map((m) => parse<{ id?: string }>(m.value).id));
  const answered = new Set(
    env.results.map((m) => parse<{ commandId?: string }>(m.value).commandId),
  );
  for (const id of ids) {
    if (!rows.some((r) => r.id === id)) missing.push(`rollout ${id}: no row`);
    const got = await env.stack.api<RolloutView>(`/v1/rollouts/${id}`);
    if (got.status !== 200) missing.push(`rollout ${id}: GET answered ${got.status}`);
    const ev = await env.stack.api<{ items: { type: string; message: string }[] }>(
      `/v1/rollouts/${id}/events`,
    );
    const items = ev.body?.items ?? [];
    const types = items.map((e) => e.type);
    if (!types.includes('started')) missing.push(`rollout ${id}: no 'started' event`);
    if (got.status === 200 && !types.includes(got.body.status) && got.body.status !== 'running')
      missing.push(`rollout ${id}: no '${got.body.status}' event`);
    const mine = outbox.filter((o) => o.payload.rolloutId === id);
    const restartEvents = items.filter((e) => e.type === 'restart').map((e) => e.message);
    const rollEvents = items.filter((e) => e.type === 'roll').map((e) => e.message);
    const podsCommanded = new Set<string>();
    const issued = new Map<string, string>();
    for (const { payload: c, sent_at } of mine) {
      const what = `${c.kind} ${c.kind === 'restart-pod' ? `${c.pod} uid ${c.uid}` : c.workload}`;
      if (issued.has(what)) reissued.push(`${what}: ${issued.get(what)} and ${c.id}`);
      issued.set(what, c.id);
      if (!sent_at) missing.push(`command ${c.id} (${c.kind}) never sent`);
      if (!onTopic.has(c.id)) missing.push(`command ${c.id} (${c.kind}) not on the commands topic`);
      if (!answered.has(c.id))
        missing.push(`command ${c.id} (${c.kind} ${c.pod ?? c.workload}) has no result`);
      if (c.kind === 'restart-pod') {
        podsCommanded.add(c.pod!);
        if (!restartEvents.some((m) => namesIn(m).includes(c.pod!)))
          missing.push(`command ${c.id}: no 'restart' event names pod ${c.pod}`);
      }
      if (c.kind === 'roll-deployment' && !rollEvents.some((m) => m.includes(` ${c.workload},`)))
        missing.push(`command ${c.id}: no 'roll' event names Deployment ${c.workload}`);
    }
    for (const m of restartEvents)
      for (const pod of namesIn(m))
        if (!podsCommanded.has(pod))
          missing.push(`'restart' event names ${pod}: no command in the outbox`);
  }
  return { missing, reissued };
}

/** Pod names of a `restart` audit message: `<target> <component>: restarting a, b`. */
function namesIn(message: string): string[] {
  const i = message.indexOf(': restarting ');
  return i < 0 ? [] : message.slice(i + ': restarting '.length).split(', ');
}

function parse<T>(value: string | null): T {
  try {
    return JSON.parse(value ?? '{}') as T;
  } catch {
    return {} as T;
  }
}

/** Delays in ms drawn from `random`, each in [min, max]. */
export function draws(random: () => number, n: number, min: number, max: number): number[] {
  return Array.from({ length: n }, () => Math.round(min + random() * (max - min)));
}

/**
 * A validating admission webhook on `pods/eviction`, served by the test on 127.0.0.1: the API
 * server calls it while an eviction request is in flight, before the eviction takes effect. The
 * test freezes the executor there (SIGSTOP): the eviction then goes through while the executor
 * cannot see the answer, so a SIGKILL once the pod is terminating lands exactly between the
 * executor's Kubernetes call and its report, every time (a watch alone sees the pod terminate
 * after the executor has already reported). `failurePolicy: Ignore`: a stopped test server
 * blocks no eviction. One webhook configuration per namespace, removed by close().
 */
export class EvictionGate {
  private server?: Server;
  private caBundle = '';
  private readonly configs: string[] = [];
  private readonly hooks = new Map<string, (pod: string) => void>();
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly env: ChaosEnv,
    private readonly port: number,
  ) {}

  async start(): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'ringmaster-gate-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    this.caBundle = cert.toString('base64');
    this.server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const review = JSON.parse(body || '{}') as {
          request?: { uid: string; name: string; namespace: string; dryRun?: boolean };
        };
        const r = review.request;
        if (r) {
          this.seen.set(r.namespace, (this.seen.get(r.namespace) ?? 0) + 1);
          if (!r.dryRun) this.hooks.get(r.namespace)?.(r.name);
        }
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: r?.uid ?? '', allowed: true },
          }),
        );
      });
    });
    await new Promise<void>((ok) => this.server!.listen(this.port, '127.0.0.1', ok));
  }

  /**
   * Calls `hook(pod)` for every eviction request in `namespace` while the request waits; once
   * the API server calls the webhook (a dry-run eviction shows it), resolves.
   */
  async watch(namespace: string, hook: (pod: string) => void): Promise<void> {
    const name = `ringmaster-chaos-gate-${namespace}`.slice(0, 253);
    const config = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          name: 'eviction-gate.chaos.ringmaster.dev',
          clientConfig: { url: `https://127.0.0.1:${this.port}/evict`, caBundle: this.caBundle },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['pods/eviction'],
              scope: 'Namespaced',
            },
          ],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          failurePolicy: 'Ignore',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 5,
        },
      ],
    };
    this.kubectl(['apply', '-f', '-'], JSON.stringify(config));
    this.configs.push(name);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.env.kubeconfig);
    kc.setCurrentContext(this.env.context);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const pod = (await core.listNamespacedPod({ namespace })).items[0].metadata!.name!;
    const deadline = Date.now() + 30_000;
    while (!this.seen.get(namespace)) {
      if (Date.now() > deadline) throw new Error(`eviction gate for ${namespace} never called`);
      await core
        .createNamespacedPodEviction({
          name: pod,
          namespace,
          dryRun: 'All',
          body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace } },
        })
        .catch(() => undefined);
      await sleep(300);
    }
    this.hooks.set(namespace, hook);
  }

  async close(): Promise<void> {
    for (const name of this.configs)
      try {
        this.kubectl(['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']);
      } catch {
        /* the cluster is going away anyway */
      }
    this.server?.closeAllConnections();
    await new Promise<void>((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }

  private kubectl(args: string[], input?: string): void {
    execFileSync(
      'kubectl',
      ['--kubeconfig', this.env.kubeconfig, '--context', this.env.context, ...args],
      { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'inherit'] },
    );
  }
}

export interface ExecutorKill {
  pod: string;
  uid: string;
  victim: string;
  /** How long the executor was frozen in its call before the SIGKILL. */
  frozenMs: number;
}

/**
 * Arms the kill of `victim` (the executor holding the case's cluster) between its Kubernetes
 * call and its report: at the case's first eviction request the gate freezes it (SIGSTOP) and
 * lets the request through; once the pod is terminating (the eviction took effect) it is
 * SIGKILLed, never having seen the answer. An eviction a PodDisruptionBudget refuses (no
 * terminating pod within 5 s) thaws it (SIGCONT) and the next request is tried.
 */
export async function armExecutorKill(
  gate: EvictionGate,
  c: ChaosCase,
  victim: string,
): Promise<{ killed: Promise<ExecutorKill> }> {
  let resolveKill!: (k: ExecutorKill) => void;
  const killed = new Promise<ExecutorKill>((r) => (resolveKill = r));
  let busy = false;
  let done = false;
  await gate.watch(c.namespace, (pod) => {
    if (busy || done) return;
    busy = true;
    c.env.stack.signal(victim, 'SIGSTOP');
    const frozenAt = Date.now();
    void c.terminating(pod, 5_000).then(async (e) => {
      if (!e) {
        c.env.stack.signal(victim, 'SIGCONT');
        busy = false;
        return;
      }
      done = true;
      await c.env.stack.kill(victim, 'SIGKILL');
      resolveKill({ pod, uid: e.uid, victim, frozenMs: Date.now() - frozenAt });
    });
  });
  return { killed };
}

/** What became of the killed executor's command: did it report, who answered it, how. */
export function reportOf(env: ChaosEnv, kill: { pod: string; uid: string; victim: string }) {
  const cmd = env.commands
    .map((m) => parse<{ id?: string; pod?: string; uid?: string }>(m.value))
    .find((m) => m.pod === kill.pod && m.uid === kill.uid);
  const results = env.results
    .map((m) => parse<{ commandId?: string; executor?: string; outcome?: string }>(m.value))
    .filter((r) => cmd?.id !== undefined && r.commandId === cmd.id);
  return {
    command: cmd?.id,
    victimReported: results.some((r) => r.executor === kill.victim),
    answers: results.map((r) => `${r.executor}:${r.outcome}`),
  };
}
