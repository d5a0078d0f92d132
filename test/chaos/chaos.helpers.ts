/**
 * Shared by the network chaos cases (not a spec itself): a stack whose services each get
 * their own environment (their Kafka, Postgres or Kubernetes API path through a fault proxy),
 * the case's own observers (availability + the test's own pod timeline, both on direct
 * connections to the clusters), and the checks every case ends with:
 *
 *   - no limit exceeded at any observed instant (AvailabilityObserver);
 *   - every targeted pod replaced exactly once: each original StatefulSet pod deleted once,
 *     every original uid gone, every pod Ready at the end, no replacement deleted again;
 *   - nothing lost: every rollout row is there, every command in the outbox was sent, is on
 *     the commands topic, is named in the audit trail (GET /v1/rollouts/{id}/events, the
 *     planner's `commands` entries) and got a result on the results topic; every command on
 *     the topic and every result belongs to a saved outbox row (nothing acted on unsaved);
 *
 * and records the counts with recordChaosCase.
 */
import { createServer } from 'node:net';
import type { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { AvailabilityObserver, type ObserverReport } from '../support/availability.observer';
import { recordChaosCase } from '../support/chaos.report';
import {
  Stack,
  applyFixture,
  ensureBuilt,
  ensureClusters,
  ensureInfra,
  waitAllReady,
  waitFor,
  type Service,
} from '../support/stack';
import {
  PodTimeline,
  pods,
  sleep,
  testKafka,
  waitObserved,
  type PodInfo,
  type RolloutView,
} from '../e2e/e2e.helpers';

type Env = NodeJS.ProcessEnv;

/** A port nothing listens on right now (for a proxy's listen address). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** `host:port` of a postgres:// URL, and the URL with another address. */
export function pgAddress(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

export function withPgAddress(url: string, address: string): string {
  const u = new URL(url);
  const [host, port] = address.split(':');
  u.hostname = host;
  u.port = port;
  return u.toString();
}

export interface ChaosStackOptions {
  /** runName(): topic prefix, schema, consumer groups, log names. */
  name: string;
  plannerPort: number;
  clusters?: number;
  /** One namespace per case, each with the microservices fixture; all are watched. */
  namespaces: string[];
  executors?: string[];
  /** Environment per service on top of the stack's (a proxied KAFKA_BROKERS, KUBECONFIG...). */
  env?: { planner?: Env; 'health-watcher'?: Env; executor?: Env };
  /** Runs once the fixture is Ready, before any service starts (proxies, PDBs). */
  beforeServices?: (kubeconfig: string, contexts: string[]) => Promise<void>;
}

export interface ChaosStack {
  stack: Stack;
  infra: { KAFKA_BROKERS: string; DATABASE_URL: string };
  /** The direct kubeconfig (observers, kubectl): never through a fault proxy. */
  kubeconfig: string;
  contexts: string[];
  /** The environment each service was last started with (overrides only). */
  env: { planner: Env; 'health-watcher': Env; executor: Env };
  executors: string[];
  /** (Re)starts a service with its environment, replaced by `env` when given. */
  restart(service: Exclude<Service, 'ready-stub'>, env?: Env): Promise<void>;
}

export async function startChaosStack(o: ChaosStackOptions): Promise<ChaosStack> {
  ensureBuilt();
  const infra = ensureInfra();
  const { kubeconfig, contexts } = ensureClusters(o.clusters ?? 1);
  for (const c of contexts) {
    for (const ns of o.namespaces)
      applyFixture(kubeconfig, c, ns, 'microservices', [], { wait: false });
    for (const ns of o.namespaces) waitAllReady(kubeconfig, c, ns);
  }
  await o.beforeServices?.(kubeconfig, contexts);
  const stack = new Stack(
    {
      name: o.name,
      kubeconfig,
      contexts,
      namespaces: o.namespaces,
      plannerPort: o.plannerPort,
    },
    infra,
  );
  const env = {
    planner: o.env?.planner ?? {},
    'health-watcher': o.env?.['health-watcher'] ?? {},
    executor: o.env?.executor ?? {},
  };
  const executors = o.executors ?? ['executor-1'];
  const startOne = (service: Exclude<Service, 'ready-stub'>) => {
    if (service === 'executor')
      for (const id of executors)
        stack.start('executor', id, { KAFKA_CLIENT_ID: id, ...env.executor });
    else stack.start(service, service, env[service]);
  };
  startOne('health-watcher');
  startOne('executor');
  startOne('planner');
  try {
    await stack.waitReady();
    await waitObserved(
      stack,
      contexts.flatMap((cluster) => o.namespaces.map((namespace) => ({ cluster, namespace }))),
      90_000,
    );
  } catch (e) {
    // Nothing outlives a stack that did not come up (its processes would keep Jest running).
    await stack.stop();
    throw e;
  }
  return {
    stack,
    infra,
    kubeconfig,
    contexts,
    env,
    executors,
    async restart(service, next) {
      if (next) env[service] = next;
      const ids = service === 'executor' ? executors : [service];
      for (const id of ids) await stack.kill(id, 'SIGTERM');
      startOne(service);
      if (service === 'planner') await stack.waitReady();
    },
  };
}

export interface Target {
  cluster: string;
  namespace: string;
}

const keyOf = (t: Target) => `${t.cluster}/${t.namespace}`;

/** The case's own eyes on each target: availability limits, deletions, and a pod timeline. */
export class CaseObservers {
  /** Every instance not stopped yet: afterAll stops them (stopObservers), so no watch outlives a failed case. */
  private static readonly running = new Set<CaseObservers>();
  readonly observers = new Map<string, AvailabilityObserver>();
  readonly timelines = new Map<string, PodTimeline>();
  readonly before = new Map<string, PodInfo[]>();

  constructor(
    private readonly kubeconfig: string,
    readonly targets: Target[],
    /** Called at every timeline event of a target (act at the moment a pod starts terminating). */
    private readonly onEvent?: (target: string, e: { pod: string; what: string }) => void,
  ) {}

  async start(): Promise<void> {
    CaseObservers.running.add(this);
    for (const t of this.targets) {
      const k = keyOf(t);
      this.before.set(k, pods(this.kubeconfig, t.cluster, t.namespace));
      const o = new AvailabilityObserver(this.kubeconfig, t.cluster, t.namespace);
      const tl = new PodTimeline(this.kubeconfig, t.cluster, t.namespace, (e) =>
        this.onEvent?.(k, e),
      );
      await o.start();
      await tl.start();
      this.observers.set(k, o);
      this.timelines.set(k, tl);
    }
  }

  /** Stops every watch (idempotent). */
  stop(): void {
    CaseObservers.running.delete(this);
    for (const o of this.observers.values()) o.stop();
    for (const t of this.timelines.values()) t.stop();
  }

  static stopAll(): void {
    for (const o of [...CaseObservers.running]) o.stop();
  }

  /** StatefulSet pods deleted so far in a target (observer's count). */
  deletions(t: Target): number {
    const r = this.observers.get(keyOf(t))!.snapshot();
    return Object.values(r.deletions).reduce((a, b) => a + b, 0);
  }

  /**
   * Stops the watches (after a short settle) and assesses every target. `restarted`: the pod
   * uids Ringmaster's restart commands named (see assess: who may have deleted what).
   */
  async finish(restarted: ReadonlySet<string>): Promise<Map<string, TargetAssessment>> {
    await sleep(1500);
    const out = new Map<string, TargetAssessment>();
    for (const t of this.targets) {
      const k = keyOf(t);
      waitAllReady(this.kubeconfig, t.cluster, t.namespace, 60);
      const report = this.observers.get(k)!.stop();
      const timeline = this.timelines.get(k)!.stop();
      out.set(
        k,
        assess(
          this.before.get(k)!,
          pods(this.kubeconfig, t.cluster, t.namespace),
          report,
          timeline,
          restarted,
        ),
      );
    }
    CaseObservers.running.delete(this);
    return out;
  }
}

export interface TargetAssessment {
  report: ObserverReport;
  violations: number;
  /** Targeted pods replaced more than once (StatefulSet pods deleted twice, replacements deleted). */
  doubleRestarts: number;
  /** StatefulSet pod deletions no restart command of Ringmaster's named (see assess). */
  foreignDeletions: string[];
  /** Original pods not replaced (StatefulSet pods never deleted, original uids still there). */
  notReplaced: string[];
  notReady: string[];
  detail: string;
}

function assess(
  before: PodInfo[],
  after: PodInfo[],
  report: ObserverReport,
  timeline: { at: number; pod: string; uid: string; what: string }[],
  restarted: ReadonlySet<string>,
): TargetAssessment {
  const originals = new Set(before.map((p) => p.uid));
  const sts = before.filter((p) => p.ownerKind === 'StatefulSet').map((p) => p.name);
  const stsNames = new Set(sts);
  // Who deleted a StatefulSet pod: Ringmaster restarts one only by a command naming its uid,
  // and the eviction carries that uid as a precondition, so a deletion of a uid no command
  // named was someone else's. Seen once in the API-errors case: a replacement deleted 0.2 s
  // after the StatefulSet controller created it, with no command naming it. The likely cause
  // is the fake kubelet: kwok v0.8.0's pod-delete stage deletes by name with no uid
  // precondition (pod_controller.go deleteResource), and its log shows that stage replayed for
  // the pod name ("failed to delete pod ... not found"). Such deletions are reported
  // (foreignDeletions, in the record's detail), not counted as Ringmaster's double restarts.
  // Deployment pods are always counted: their controller replaces them on our roll.
  const ours = (pod: string, uid: string) => !stsNames.has(pod) || restarted.has(uid);
  const foreignDeletions = Object.entries(report.deletedAt ?? {}).flatMap(([pod, ds]) =>
    ds.filter((d) => !ours(pod, d.uid)).map((d) => `${pod}(${d.uid.slice(0, 8)})`),
  );
  const twice = Object.entries(report.deletedAt ?? {})
    .filter(([pod, ds]) => ds.filter((d) => ours(pod, d.uid)).length > 1)
    .map(([p]) => p);
  // When and which uid each time, to trace it (the observer's deletedAt, the test's timeline).
  const traces = twice.map(
    (p) =>
      `${p}: ${JSON.stringify(report.deletedAt?.[p] ?? [])} created ${JSON.stringify(timeline.filter((e) => e.pod === p && e.what === 'created').map((e) => ({ at: e.at, uid: e.uid })))}`,
  );
  // A replacement (a uid that was not there at the start) that is deleted again: the pod was
  // restarted a second time (for a Deployment pod this is the only way to see it).
  const replacementsDeleted = [
    ...new Set(
      timeline
        .filter((e) => e.what === 'deleting' && !originals.has(e.uid) && ours(e.pod, e.uid))
        .map((e) => `${e.pod}(${e.uid.slice(0, 8)})`),
    ),
  ];
  const notReplaced = [
    ...sts.filter((n) => (report.deletions[n] ?? 0) === 0),
    ...after.filter((p) => originals.has(p.uid)).map((p) => p.name),
  ];
  const notReady = after.filter((p) => !p.ready).map((p) => p.name);
  return {
    report,
    violations: report.violations.length,
    doubleRestarts: twice.length + replacementsDeleted.length,
    foreignDeletions,
    notReplaced: [...new Set(notReplaced)],
    notReady,
    detail: `maxUnavailable ${JSON.stringify(report.maxUnavailable)} maxZonesDisrupted ${JSON.stringify(report.maxZonesDisrupted)} deletions ${JSON.stringify(report.deletions)} originals ${report.originalsDeleted}/${report.originals}${twice.length ? ` twice ${traces.join('; ')}` : ''}${replacementsDeleted.length ? ` replacements deleted ${replacementsDeleted.join(',')}` : ''}${foreignDeletions.length ? ` deleted by someone else ${foreignDeletions.join(',')}` : ''}`,
  };
}

/** Every message of a topic, from the beginning up to its end now (a throwaway group). */
export async function readTopic(
  kafka: Kafka,
  topic: string,
): Promise<{ key: string | null; value: string | null; partition: number; timestamp: number }[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic))
      if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high) - 1n);
  } finally {
    await admin.disconnect();
  }
  const out: { key: string | null; value: string | null; partition: number; timestamp: number }[] =
    [];
  if (ends.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `chaos-read-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const left = new Set(ends.keys());
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        out.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          partition,
          timestamp: Number(message.timestamp),
        });
        if (BigInt(message.offset) >= ends.get(partition)!) left.delete(partition);
      },
    });
    await waitFor(() => left.size === 0, 60_000, `reading ${topic} to its end`);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

interface OutboxCommand {
  id: string;
  kind: string;
  rolloutId: string;
  sent: boolean;
}

export interface LostReport {
  lost: number;
  problems: string[];
  commands: number;
  results: number;
  outcomes: Record<string, number>;
  /** The rollouts' commands as published (broker timestamps), duplicates included. */
  published: { id: string; kind: string; at: number }[];
  /** Pod uids the rollouts' restart commands named. */
  restartedUids: Set<string>;
  /** Their results: when the executor made each (`at`) and when it reached the topic. */
  answers: { commandId: string; outcome: string; at: number; publishedAt: number }[];
}

/**
 * Everything each rollout should have left behind, read from the real stores: the rollout
 * rows and audit trail through the API, the outbox from Postgres (the planner's schema), the
 * commands and results from their topics. Each thing missing counts one.
 */
export async function nothingLost(stack: Stack, rolloutIds: string[]): Promise<LostReport> {
  const problems: string[] = [];
  const prefix = stack.base.KAFKA_TOPIC_PREFIX ?? '';
  const schema = stack.base.DATABASE_SCHEMA!;
  const db = new DataSource({ type: 'postgres', url: stack.base.DATABASE_URL, poolSize: 1 });
  await db.initialize();
  let outbox: OutboxCommand[];
  try {
    const rows = (await db.query(
      `SELECT payload, sent_at IS NOT NULL AS sent FROM "${schema}".outbox WHERE topic = $1 ORDER BY id`,
      [`${prefix}rollout.commands`],
    )) as { payload: { id: string; kind: string; rolloutId: string }; sent: boolean }[];
    outbox = rows.map((r) => ({ ...r.payload, sent: r.sent }));
  } finally {
    await db.destroy();
  }
  const kafka = testKafka(stack.base.KAFKA_BROKERS!, `${stack.opts.name}-lost-check`);
  const onTopic = (await readTopic(kafka, `${prefix}rollout.commands`)).map((m) => ({
    ...(JSON.parse(m.value ?? '{}') as {
      id: string;
      rolloutId: string;
      kind: string;
      uid?: string;
    }),
    at: m.timestamp,
  }));
  const results = (await readTopic(kafka, `${prefix}rollout.command-results`)).map((m) => ({
    ...(JSON.parse(m.value ?? '{}') as {
      commandId: string;
      rolloutId: string;
      outcome: string;
      at: number;
    }),
    publishedAt: m.timestamp,
  }));
  const mine = new Set(rolloutIds);
  const saved = new Set(outbox.map((c) => c.id));
  const published = new Set(onTopic.map((c) => c.id));
  const answered = new Set(results.map((r) => r.commandId));
  const outcomes: Record<string, number> = {};
  for (const r of results)
    if (mine.has(r.rolloutId)) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;

  let commands = 0;
  for (const id of rolloutIds) {
    const got = await stack.api<RolloutView>(`/v1/rollouts/${id}`);
    if (got.status !== 200) problems.push(`rollout ${id}: GET answered ${got.status}`);
    const audited = new Set<string>();
    let after: string | undefined;
    for (;;) {
      const page = await stack.api<{
        items: { id: string; type: string; data?: { commands?: { id: string }[] } }[];
      }>(`/v1/rollouts/${id}/events${after ? `?after=${after}` : ''}`);
      if (page.status !== 200) {
        problems.push(`rollout ${id}: events answered ${page.status}`);
        break;
      }
      for (const e of page.body.items)
        if (e.type === 'commands') for (const c of e.data?.commands ?? []) audited.add(c.id);
      if (page.body.items.length < 500) break;
      after = page.body.items[page.body.items.length - 1].id;
    }
    for (const c of outbox.filter((x) => x.rolloutId === id)) {
      commands++;
      const what = `command ${c.id} (${c.kind})`;
      if (!c.sent) problems.push(`${what}: still unsent in the outbox`);
      if (!published.has(c.id)) problems.push(`${what}: not on the commands topic`);
      if (!audited.has(c.id)) problems.push(`${what}: not in the audit trail`);
      if (!answered.has(c.id)) problems.push(`${what}: no result`);
    }
  }
  // Nothing acted on that no saved decision issued.
  for (const c of onTopic)
    if (mine.has(c.rolloutId) && !saved.has(c.id))
      problems.push(`command ${c.id} on the topic has no outbox row`);
  for (const r of results)
    if (mine.has(r.rolloutId) && !saved.has(r.commandId))
      problems.push(`result for ${r.commandId} has no outbox row`);
  return {
    lost: problems.length,
    problems,
    commands,
    results: results.filter((r) => mine.has(r.rolloutId)).length,
    outcomes,
    published: onTopic
      .filter((c) => mine.has(c.rolloutId))
      .map((c) => ({ id: c.id, kind: c.kind, at: c.at })),
    restartedUids: new Set(
      onTopic.filter((c) => mine.has(c.rolloutId) && c.uid).map((c) => c.uid!),
    ),
    answers: results
      .filter((r) => mine.has(r.rolloutId))
      .map((r) => ({
        commandId: r.commandId,
        outcome: r.outcome,
        at: r.at,
        publishedAt: r.publishedAt,
      })),
  };
}

export interface CaseOutcome {
  assessments: Map<string, TargetAssessment>;
  lost: LostReport;
  violations: number;
  doubleRestarts: number;
}

/** Observers' and stores' counts of a finished case, recorded for the chaos line. */
export async function concludeCase(
  name: string,
  stack: Stack,
  observers: CaseObservers,
  rolloutIds: string[],
  extra: Record<string, unknown> = {},
): Promise<CaseOutcome> {
  const lost = await nothingLost(stack, rolloutIds);
  const assessments = await observers.finish(lost.restartedUids);
  let violations = 0;
  let doubleRestarts = 0;
  for (const a of assessments.values()) {
    violations += a.violations;
    doubleRestarts += a.doubleRestarts;
  }
  const detail = {
    ...extra,
    targets: Object.fromEntries([...assessments].map(([k, a]) => [k, a.detail])),
    commands: lost.commands,
    results: lost.results,
    outcomes: lost.outcomes,
    problems: lost.problems.slice(0, 20),
  };
  recordChaosCase({
    case: name,
    rollouts: rolloutIds.length,
    violations,
    doubleRestarts,
    lost: lost.lost,
    detail,
  });
  console.log(`chaos case ${name}: ${JSON.stringify(detail)}`);
  return { assessments, lost, violations, doubleRestarts };
}

/** The assertions every case makes on its outcome (with the evidence in the message). */
export function expectClean(o: CaseOutcome): void {
  for (const [k, a] of o.assessments) {
    if (a.violations > 0)
      throw new Error(
        `${k}: availability violations ${JSON.stringify(a.report.violations)}; ${a.detail}`,
      );
    if (a.doubleRestarts > 0) throw new Error(`${k}: pods replaced more than once; ${a.detail}`);
    if (a.notReplaced.length > 0)
      throw new Error(`${k}: not replaced: ${a.notReplaced.join(', ')}; ${a.detail}`);
    if (a.notReady.length > 0)
      throw new Error(`${k}: not Ready at the end: ${a.notReady.join(', ')}`);
  }
  if (o.lost.lost > 0) throw new Error(`lost: ${o.lost.problems.join('; ')}`);
}

/** Runs `fn` every `everyMs` until stop() (periodic faults); errors are kept, not thrown. */
export function every(everyMs: number, fn: () => Promise<void>): { stop(): Promise<string[]> } {
  const errors: string[] = [];
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(() =>
      stopped ? undefined : fn().catch((e: unknown) => void errors.push(String(e))),
    );
  }, everyMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      return errors;
    },
  };
}
