/**
 * Helpers shared by the e2e specs (not a spec itself): response shapes of the REST API as the
 * tests read them, creating a rollout once the planner has observed the target, reading pods
 * with kubectl, and a small Kafka client for the request and dead-letter topics.
 */
import { execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import {
  AssignerProtocol,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
} from 'kafkajs';
import { REQUEST_AUTH_HEADER } from '@ringmaster/contracts';
import { isForcedDeletion, type ObserverReport } from '../support/availability.observer';
import {
  Stack,
  applyFixture,
  ensureBuilt,
  ensureClusters,
  ensureInfra,
  waitAllReady,
  waitFor,
} from '../support/stack';

export const TERMINAL = ['succeeded', 'failed', 'aborted'];
export const SETTLED = [...TERMINAL, 'blocked'];

export interface ComponentView {
  component: string;
  status: string;
  reason?: string;
  restarted: number;
  total: number;
  limit?: number;
  zoneAware?: boolean;
  activeZone?: string;
  inFlight: { pod: string; zone?: string }[];
  maxUnavailableSeen?: number;
  waiting?: unknown;
}

export interface RolloutView {
  id: string;
  status: string;
  reason?: string;
  targets: string[];
  etaSeconds?: number;
  elapsedSeconds?: number;
  targetProgress: {
    target: string;
    status: string;
    reason?: string;
    components: ComponentView[];
  }[];
}

export interface PlanView {
  etaSeconds: number;
  targets: {
    target: string;
    components: {
      component: string;
      policy: { limit: number; zonesAtOnce: number; zoneAware: boolean; basis: string };
    }[];
  }[];
}

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  problems?: string[];
}

/**
 * POST /v1/rollouts, retried while the planner has not yet observed the target (422 "unknown
 * cluster" / "no Mimir workloads observed"): right after start-up the compacted topics are
 * still being read. Any other answer is returned as is.
 */
export async function postWhenObserved<T = { id: string }>(
  stack: Stack,
  body: unknown,
  timeoutMs = 60_000,
): Promise<{ status: number; body: T }> {
  let last: { status: number; body: T } | undefined;
  await waitFor(
    async () => {
      last = await stack.api<T>('/v1/rollouts', { body });
      const problems = (last.body as unknown as ErrorBody)?.problems ?? [];
      return !(
        last.status === 422 &&
        problems.some((p) =>
          /unknown cluster|no Mimir workloads observed|not discovered yet/.test(p),
        )
      );
    },
    timeoutMs,
    'the planner to observe the target',
    () => JSON.stringify(last?.body),
  );
  return last!;
}

/** Waits until the planner's observed state includes every target (a dry run answers 200). */
export interface E2eStackOptions {
  /** runName(): topic prefix, schema and namespace of this spec. */
  name: string;
  plannerPort: number;
  layout?: 'microservices' | 'monolithic';
  /** Clusters with the fixture (kwok-ringmaster-1..n). */
  clusters?: number;
  /** Faults put on pod templates after the fixture is Ready (`ingester-zone-a=never-ready`). */
  faults?: string[];
  /** Executor ids to start (none: a planner that only plans and validates). */
  executors?: string[];
  readyStub?: { port: number; delayMs: number };
  /** API tokens besides the admin one: name -> scopes (plaintext in `stack.tokens[name]`). */
  tokens?: Record<string, string[]>;
  /** Runs once the fixture is Ready, before any service starts (e.g. an observer). */
  beforeServices?: (kubeconfig: string, contexts: string[]) => Promise<void>;
  /** More namespaces with the fixture, watched too (one per case of a spec sharing a stack). */
  moreNamespaces?: string[];
  /** Environment of every service (e.g. the SASL_SSL Kafka listener, Postgres over TLS). */
  env?: NodeJS.ProcessEnv;
}

export interface E2eStack {
  stack: Stack;
  kafkaBrokers: string;
  kubeconfig: string;
  contexts: string[];
}

/**
 * Everything a spec rolls against: the fixture in namespace `name` of each cluster, then the
 * health watcher, the executors and the planner as processes, ready and observing the fixture.
 */
export async function startE2eStack(o: E2eStackOptions): Promise<E2eStack> {
  ensureBuilt();
  const infra = ensureInfra();
  const { kubeconfig, contexts } = ensureClusters(o.clusters ?? 1);
  const layout = o.layout ?? 'microservices';
  const namespaces = [o.name, ...(o.moreNamespaces ?? [])];
  for (const c of contexts) {
    for (const ns of namespaces) applyFixture(kubeconfig, c, ns, layout, [], { wait: false });
    for (const ns of namespaces) waitAllReady(kubeconfig, c, ns);
    if (o.faults?.length) applyFixture(kubeconfig, c, o.name, layout, o.faults, { wait: false });
  }
  await o.beforeServices?.(kubeconfig, contexts);
  const stack = new Stack(
    {
      name: o.name,
      kubeconfig,
      contexts,
      namespaces,
      plannerPort: o.plannerPort,
      readyStubPort: o.readyStub?.port,
      tokens: o.tokens,
      env: o.env,
    },
    infra,
  );
  if (o.readyStub) {
    stack.start('ready-stub', 'ready-stub', {
      READY_STUB_DELAY_MS: String(o.readyStub.delayMs),
      READY_STUB_CONTEXT: contexts[0],
      READY_STUB_NAMESPACE: o.name,
    });
    const url = `http://127.0.0.1:${o.readyStub.port}/healthz`;
    await waitFor(
      async () => (await fetch(url).catch(() => undefined))?.status === 200,
      60_000,
      'ready stub /healthz',
    );
  }
  stack.start('health-watcher');
  for (const id of o.executors ?? ['executor-1'])
    stack.start('executor', id, { KAFKA_CLIENT_ID: id });
  stack.start('planner');
  await stack.waitReady();
  await waitObserved(
    stack,
    contexts.flatMap((cluster) => namespaces.map((namespace) => ({ cluster, namespace }))),
  );
  return { stack, kafkaBrokers: infra.KAFKA_BROKERS, kubeconfig, contexts };
}

export async function waitObserved(
  stack: Stack,
  targets: { cluster: string; namespace: string }[],
  timeoutMs = 60_000,
): Promise<void> {
  const r = await postWhenObserved<ErrorBody>(
    stack,
    { targets, change: { kind: 'restart' }, dryRun: true },
    timeoutMs,
  );
  if (r.status !== 200) throw new Error(`dry run answered ${r.status}: ${JSON.stringify(r.body)}`);
}

export async function listRollouts(stack: Stack): Promise<{ id: string; status: string }[]> {
  const r = await stack.api<{ items: { id: string; status: string }[] }>('/v1/rollouts?limit=500');
  if (r.status !== 200) throw new Error(`GET /v1/rollouts answered ${r.status}`);
  return r.body.items;
}

export interface PodInfo {
  name: string;
  uid: string;
  component: string;
  zone?: string;
  ownerKind?: string;
  ready: boolean;
}

export function pods(kubeconfig: string, context: string, namespace: string): PodInfo[] {
  const out = execFileSync(
    'kubectl',
    [
      '--kubeconfig',
      kubeconfig,
      '--context',
      context,
      '-n',
      namespace,
      'get',
      'pods',
      '-o',
      'json',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const list = JSON.parse(out) as {
    items: {
      metadata: {
        name: string;
        uid: string;
        labels?: Record<string, string>;
        ownerReferences?: { kind: string }[];
      };
      status?: { conditions?: { type: string; status: string }[] };
    }[];
  };
  return list.items.map((p) => ({
    name: p.metadata.name,
    uid: p.metadata.uid,
    component: p.metadata.labels?.['app.kubernetes.io/component'] ?? '?',
    zone: p.metadata.labels?.zone,
    ownerKind: p.metadata.ownerReferences?.[0]?.kind,
    ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
  }));
}

export function statefulSetPodNames(
  kubeconfig: string,
  context: string,
  namespace: string,
): string[] {
  return pods(kubeconfig, context, namespace)
    .filter((p) => p.ownerKind === 'StatefulSet')
    .map((p) => p.name)
    .sort();
}

/** Renders the fixture with `faults` and applies it over the running one (no wait: faults act on new pods). */
/** The assertions every rolling test makes on the observer's report, with the report in the message. */
export function expectNoViolations(report: ObserverReport): void {
  if (report.violations.length > 0)
    throw new Error(
      `availability violations: ${JSON.stringify(report.violations)}\nreport: ${JSON.stringify(report)}`,
    );
}

/** One line per component for the test log: status restarted/total maxUnavailableSeen. */
export function progressLine(r: RolloutView): string {
  return r.targetProgress
    .map(
      (t) =>
        `${t.target} ${t.status}: ${t.components.map((c) => `${c.component}=${c.status} ${c.restarted}/${c.total} max${c.maxUnavailableSeen ?? '?'}`).join(', ')}`,
    )
    .join(' | ');
}

/**
 * Member client id -> partitions of `topic` it holds, once group `groupId` is Stable with
 * `members` members that each hold some (read from the group's description).
 */
export async function groupAssignment(
  admin: Admin,
  groupId: string,
  topic: string,
  members: number,
): Promise<Map<string, number[]>> {
  let out = new Map<string, number[]>();
  let last = '';
  await waitFor(
    async () => {
      const { groups } = await admin.describeGroups([groupId]);
      const g = groups[0];
      last = `${g.state} ${g.members.map((m) => m.clientId).join(',')}`;
      if (g.state !== 'Stable' || g.members.length !== members) return false;
      out = new Map(
        g.members.map((m) => [
          m.clientId,
          AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [],
        ]),
      );
      return [...out.values()].every((ps) => ps.length > 0);
    },
    90_000,
    `group ${groupId} stable with ${members} members`,
    () => last,
  );
  return out;
}

/** The partition the services' producers (murmur2, as the Java client) put `key` on. */
export async function partitionOf(admin: Admin, topic: string, key: string): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return Partitioners.DefaultPartitioner()({
    topic,
    partitionMetadata: meta.topics[0].partitions,
    message: { key, value: null },
  });
}

export function testKafka(brokers: string, clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
}

/** `authorization: Bearer <token>`: the header a producer of rollout.requests proves itself with. */
export function requestAuth(token: string): Record<string, string> {
  return { [REQUEST_AUTH_HEADER]: `Bearer ${token}` };
}

/** Collects every message of `topic` from the beginning into an array the test can poll. */
export async function collect(
  kafka: Kafka,
  topic: string,
  groupId: string,
): Promise<{
  consumer: Consumer;
  messages: { key: string | null; value: string | null; offset: string }[];
}> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
  const messages: { key: string | null; value: string | null; offset: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push({
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        offset: message.offset,
      });
    },
  });
  return { consumer, messages };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface TimelineEvent {
  at: number;
  pod: string;
  uid: string;
  what: 'deleting' | 'ready' | 'not-ready' | 'created';
  /** A deletion with no grace period: kwok's, never Ringmaster's (isForcedDeletion). */
  forced?: boolean;
}

/**
 * The test's own record of when each pod was created, turned Ready (or not) and began deleting,
 * from its own list+watch (times are this process's clock at the watch event). Used where the
 * order and spacing of restarts matter, beyond the observer's counts.
 */
export class PodTimeline {
  readonly events: TimelineEvent[] = [];
  private readonly kc = new k8s.KubeConfig();
  private readonly state = new Map<string, { ready: boolean; deleting: boolean }>();
  private abort?: AbortController;
  private stopped = false;

  constructor(
    kubeconfig: string,
    context: string,
    private readonly namespace: string,
    /** Called at each event as it is recorded (a test acting at the very moment, e.g. a kill). */
    private readonly listener?: (e: TimelineEvent) => void,
  ) {
    this.kc.loadFromFile(kubeconfig);
    this.kc.setCurrentContext(context);
  }

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const list = await core.listNamespacedPod({ namespace: this.namespace });
    for (const p of list.items)
      this.state.set(p.metadata!.uid!, {
        ready: isReady(p),
        deleting: !!p.metadata?.deletionTimestamp,
      });
    this.watch(list.metadata?.resourceVersion);
  }

  stop(): TimelineEvent[] {
    this.stopped = true;
    this.abort?.abort();
    return [...this.events];
  }

  private watch(resourceVersion?: string): void {
    if (this.stopped) return;
    void new k8s.Watch(this.kc)
      .watch(
        `/api/v1/namespaces/${this.namespace}/pods`,
        { resourceVersion, allowWatchBookmarks: true },
        (type: string, p: k8s.V1Pod) => {
          resourceVersion = p.metadata?.resourceVersion ?? resourceVersion;
          if (type !== 'BOOKMARK') this.onEvent(type, p);
        },
        () => setTimeout(() => this.watch(resourceVersion), 100),
      )
      .then((a) => {
        this.abort = a;
        if (this.stopped) a.abort();
      })
      .catch(() => setTimeout(() => this.watch(resourceVersion), 500));
  }

  private onEvent(type: string, p: k8s.V1Pod): void {
    const uid = p.metadata!.uid!;
    const pod = p.metadata!.name!;
    const at = Date.now();
    const before = this.events.length;
    const prev = this.state.get(uid);
    const now = {
      ready: type !== 'DELETED' && isReady(p),
      deleting: type === 'DELETED' || !!p.metadata?.deletionTimestamp,
    };
    if (!prev) this.events.push({ at, pod, uid, what: 'created' });
    if (now.deleting && !prev?.deleting) {
      const forced = isForcedDeletion(p);
      this.events.push({ at, pod, uid, what: 'deleting', ...(forced ? { forced } : {}) });
    }
    if (!now.deleting && now.ready && !prev?.ready)
      this.events.push({ at, pod, uid, what: 'ready' });
    if (!now.deleting && !now.ready && prev?.ready)
      this.events.push({ at, pod, uid, what: 'not-ready' });
    if (type === 'DELETED') this.state.delete(uid);
    else this.state.set(uid, now);
    if (this.listener) for (const e of this.events.slice(before)) this.listener(e);
  }
}

function isReady(p: k8s.V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
