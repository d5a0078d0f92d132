/**
 * npm run bench:load (scripts/load.sh): the planner under concurrent clients, on the real stack
 * (Kafka, Postgres, two kwok clusters, the services as processes: one planner, two executors,
 * one health watcher), with an independent availability observer on every target.
 *
 *   --quick (default)  2 clusters x 10 namespaces of the small microservices fixture (520 pods),
 *                      32 REST clients for 20 s, 20 rollout requests: one per target (~5 min)
 *   --full             2 x 15 namespaces (780 pods), 64 clients for 45 s, 60 requests: two per
 *                      target, 125 s apart (~15 min). At 2 x 25 (1,300 pods; --namespaces 25)
 *                      kwok v0.8.0 on this machine stops playing stages for same-named
 *                      StatefulSet replacements for minutes (pods never Ready), so rollouts
 *                      stall on the simulator, not on Ringmaster
 *   --namespaces N --clients N --requests N --phase-a-seconds N   override one figure
 *   --gap-seconds N    least time between two rollouts of one target (default 125, see
 *                      PDB_MEMORY_MS; 0 = back to back)
 *   --keep             leave the namespaces in place afterwards
 *
 * Phases:
 *  0. idle: one rollout per cluster alone (the idle rollout duration) and the probes alone.
 *  A. REST: `clients` concurrent loops of dry-run plans (one target, several targets), lists
 *     (filters, a second page), GET /v1/rollouts/{id} and its events.
 *  B. real rollouts: one worker per target asks for a rollout (a template change whose
 *     annotation names the request), waits for it to settle (and the gap), asks again, until
 *     `requests` are spent. Even requests go over REST with an Idempotency-Key (every fourth sent twice at
 *     once, every fourth+2 retried after the answer), odd ones as events on the run's
 *     rollout.requests topic (every third produced twice). Every third request is followed by
 *     a clashing one for the same target while its rollout is active: the API answers 409
 *     (an event is dead-lettered with the reason), counted as expected, not as an error.
 *  Throughout, a probe samples GET /healthz and GET /v1/rollouts/{id} one at a time; its p99
 *  under load over its p99 idle is the responsiveness ratio (times on this machine are noisy,
 *  the ratio less so).
 *
 * Correctness, from sources that do not trust the planner: the observers' own watches (no limit
 * exceeded; every StatefulSet pod deleted exactly once per succeeded rollout of its target), the
 * final list of rollouts (each accepted request is exactly one rollout, duplicates deduped, no
 * two rollouts of one target overlap in time, no clash became a rollout while the target was
 * busy), the dead-letter topic, and the answers themselves (no 5xx).
 *
 * Rate limit: the planner's token bucket is per caller (token), so every client here has its own
 * token and the planner runs with its default limit (PLANNER_RATE_LIMIT_RPS 20, BURST 40 per
 * client). 429s are counted separately (and honoured: the call waits Retry-After and goes again).
 *
 * Output: tables, then one line
 *   load: targets=.. pods=.. rest_rps=.. rest_p50_ms=.. rest_p99_ms=.. errors=.. http_5xx=.. ...
 * Exit status 1 when a correctness check fails.
 */
import type { Producer } from 'kafkajs';
import { ROLLOUT_REQUEST_TYPE, topicNames } from '@ringmaster/contracts';
import { AvailabilityObserver, type ObserverReport } from '../support/availability.observer';
import {
  Stack,
  applyFixture,
  deleteNamespace,
  ensureBuilt,
  ensureClusters,
  ensureInfra,
  LOG_DIR,
  runName,
  waitAllReady,
} from '../support/stack';
import {
  SETTLED,
  collect,
  requestAuth,
  sleep,
  statefulSetPodNames,
  testKafka,
  waitObserved,
} from '../e2e/e2e.helpers';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LatencyRecorder, percentile, table, type OpSummary } from './latency.recorder';

const PORT = 18270;
/** Pod-template annotation naming the request a rollout came from (the change is in every summary). */
const REQUEST_ANNOTATION = 'load.ringmaster.dev/request';
/** The token name of the system that sends request events (an event's producer must be it). */
const PRODUCER = 'load-bench';
const PODS_PER_TARGET = 26; // the small microservices fixture
const SETTLE_TIMEOUT_MS = 300_000;
const VISIBLE_TIMEOUT_MS = 90_000;

interface Profile {
  nsPerCluster: number;
  clients: number;
  phaseAMs: number;
  requests: number;
  idleMs: number;
  /** Least time between the end of a target's rollout and the next request for it. */
  gapMs: number;
  keep: boolean;
  label: string;
}

/**
 * Kubernetes' disruption controller keeps an evicted pod's NAME in the PDB's disruptedPods for
 * up to 2 minutes unless it sees the pod gone; a StatefulSet's replacement has the same name, so
 * within 2 minutes of a rollout every eviction of the next one in that component may be refused
 * (maxUnavailable 1). Back-to-back rollouts of one target measure that, not the planner: by
 * default the bench leaves this much between them (`--gap-seconds 0`: back to back).
 */
const PDB_MEMORY_MS = 125_000;

function parseArgs(argv: string[]): Profile {
  const full = argv.includes('--full');
  const keep = argv.includes('--keep');
  const p: Profile = full
    ? {
        nsPerCluster: 15,
        clients: 64,
        phaseAMs: 45_000,
        requests: 60,
        idleMs: 10_000,
        gapMs: PDB_MEMORY_MS,
        keep,
        label: 'full',
      }
    : {
        nsPerCluster: 10,
        clients: 32,
        phaseAMs: 20_000,
        requests: 20,
        idleMs: 8_000,
        gapMs: PDB_MEMORY_MS,
        keep,
        label: 'quick',
      };
  const num = (flag: string): number | undefined => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${flag}: a positive integer`);
    return v;
  };
  p.nsPerCluster = num('--namespaces') ?? p.nsPerCluster;
  p.clients = num('--clients') ?? p.clients;
  p.requests = num('--requests') ?? p.requests;
  p.phaseAMs = (num('--phase-a-seconds') ?? p.phaseAMs / 1000) * 1000;
  const gap = argv.indexOf('--gap-seconds');
  if (gap >= 0) {
    const v = Number(argv[gap + 1]);
    if (!Number.isInteger(v) || v < 0) throw new Error('--gap-seconds: an integer >= 0');
    p.gapMs = v * 1000;
  }
  return p;
}

type Target = { cluster: string; namespace: string };
const keyOf = (t: Target) => `${t.cluster}/${t.namespace}`;

interface Summary {
  id: string;
  status: string;
  targets: string[];
  change: { kind: string; annotations?: Record<string, string> };
  createdAt: string;
  updatedAt: string;
}

interface RolloutOutcome {
  key: string;
  target: string;
  channel: 'rest' | 'event' | 'idle';
  id: string;
  status: string;
  seconds: number;
}

/**
 * A REST call as client `token`, timed, recorded under `op`; a call that gets no answer is
 * status 0. A 429 is recorded, then honoured (Retry-After is whole seconds) and sent again.
 */
async function call<T>(
  stack: Stack,
  token: string,
  rec: LatencyRecorder,
  op: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T }> {
  for (;;) {
    const t = performance.now();
    let r: { status: number; body: T };
    try {
      r = await stack.api<T>(path, {
        ...init,
        headers: { authorization: `Bearer ${token}`, ...init.headers },
      });
    } catch {
      r = { status: 0, body: undefined as T };
    }
    rec.add(op, performance.now() - t, r.status);
    if (r.status !== 429) return r;
    await sleep(1000);
  }
}

/** GET /healthz and GET /v1/rollouts/{id}, one at a time, every 250 ms, tagged by phase. */
class Probe {
  phase = 'idle';
  rolloutId?: string;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly stack: Stack,
    private readonly token: string,
    readonly rec: LatencyRecorder,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const t = performance.now();
        const h = await fetch(`${this.stack.plannerUrl}/healthz`, {
          headers: { authorization: `Bearer ${this.token}` },
        }).catch(() => undefined);
        await h?.arrayBuffer();
        this.rec.add(`${this.phase}:healthz`, performance.now() - t, h?.status ?? 0);
        if (this.rolloutId)
          await call(
            this.stack,
            this.token,
            this.rec,
            `${this.phase}:get`,
            `/v1/rollouts/${this.rolloutId}`,
          );
        await sleep(250);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * PodDisruptionBudget refusals the executors retried, from their logs (diagnostics, not a
 * correctness source): a refused eviction is retried in place and holds every later command of
 * its partition, i.e. of every cluster hashed to it. Per command (partition@offset): attempts
 * and the seconds from the first refusal to the last.
 */
function pdbRefusals(name: string): { commands: number; attempts: number; longestS: number } {
  const seen = new Map<string, { n: number; first: number; last: number }>();
  const line =
    /(\d+\/\d+\/\d+, \d+:\d+:\d+ [AP]M) .*rollout\.commands\/(\d+@\d+): attempt \d+ failed.*eviction refused by a PodDisruptionBudget/;
  for (const f of readdirSync(LOG_DIR).filter((x) => x.startsWith(`${name}-executor`))) {
    for (const l of readFileSync(join(LOG_DIR, f), 'utf8').split('\n')) {
      const m = line.exec(l);
      if (!m) continue;
      const at = Date.parse(m[1]);
      const e = seen.get(m[2]) ?? { n: 0, first: at, last: at };
      e.n++;
      e.last = at;
      seen.set(m[2], e);
    }
  }
  const all = [...seen.values()];
  return {
    commands: all.length,
    attempts: all.reduce((n, e) => n + e.n, 0),
    longestS: all.reduce((m, e) => Math.max(m, (e.last - e.first) / 1000), 0),
  };
}

/**
 * Uids of the pods the executors evicted or deleted, from their logs ("evicted (uid U)"). An
 * observed deletion of any other uid was not Ringmaster's: kwok v0.8.0 deletes a pod whose
 * deletionTimestamp it saw BY NAME, so a late replay of that stage for an evicted pod can delete
 * its same-named StatefulSet replacement (its log shows two "Delete pod" for one name <1 s
 * apart). Those are counted as foreign_deletions, not as double restarts.
 */
function restartedUids(name: string): Set<string> {
  const uids = new Set<string>();
  const re = /(?:evicted|deleted) \(uid ([0-9a-f-]{36})\)/g;
  for (const f of readdirSync(LOG_DIR).filter((x) => x.startsWith(`${name}-executor`)))
    for (const m of readFileSync(join(LOG_DIR, f), 'utf8').matchAll(re)) uids.add(m[1]);
  return uids;
}

/**
 * Connection refusals the planner logged on its paths to Kafka and Postgres: another job on this
 * machine restarting the shared brokers or database (the chaos lane does) shows up here, and
 * the run's figures (and 5xx: the API answers 500 while Postgres is down) are then not load.
 */
function infraRefusals(name: string): number {
  const log = readFileSync(join(LOG_DIR, `${name}-planner.log`), 'utf8');
  return (log.match(/ECONNREFUSED 127\.0\.0\.1:\d+|the database system is shutting down/g) ?? [])
    .length;
}

async function main(): Promise<number> {
  const prof = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (m: string) =>
    console.error(`[load ${((Date.now() - started) / 1000).toFixed(0)}s] ${m}`);

  ensureBuilt();
  const infra = ensureInfra();
  const { kubeconfig, contexts } = ensureClusters(2);
  const name = runName('load');
  const namespaces = Array.from({ length: prof.nsPerCluster }, (_, i) => `${name}-${i}`);
  const targets: Target[] = contexts.flatMap((cluster) =>
    namespaces.map((namespace) => ({ cluster, namespace })),
  );
  log(`${prof.label}: ${targets.length} targets (${targets.length * PODS_PER_TARGET} pods)`);
  const topics = topicNames(`${name}.`);

  const observers = new Map<string, AvailabilityObserver>();
  let stack: Stack | undefined;
  let producer: Producer | undefined;
  let dlq: Awaited<ReturnType<typeof collect>> | undefined;
  let probe: Probe | undefined;
  try {
    for (const t of targets)
      applyFixture(kubeconfig, t.cluster, t.namespace, 'microservices', [], { wait: false });
    for (const t of targets) waitAllReady(kubeconfig, t.cluster, t.namespace, 240);
    const stsPods = new Map(
      targets.map((t) => [keyOf(t), statefulSetPodNames(kubeconfig, t.cluster, t.namespace)]),
    );
    for (const t of targets) {
      const o = new AvailabilityObserver(kubeconfig, t.cluster, t.namespace);
      await o.start();
      observers.set(keyOf(t), o);
    }
    log('fixtures Ready, observers watching');

    stack = new Stack(
      {
        name,
        kubeconfig,
        contexts,
        namespaces,
        plannerPort: PORT,
        // One token per client (the rate limit is per token), the producer's for the events.
        tokens: Object.fromEntries([
          ...Array.from({ length: Math.max(prof.clients, targets.length) }, (_, i) => [
            `client-${i}`,
            ['roll:*/*'],
          ]),
          ['probe', ['read:*/*']],
          [PRODUCER, ['roll:*/*']],
        ]),
      },
      infra,
    );
    stack.start('health-watcher');
    for (const id of ['executor-1', 'executor-2'])
      stack.start('executor', id, { KAFKA_CLIENT_ID: id });
    stack.start('planner');
    await stack.waitReady(120_000);
    await waitObserved(stack, targets, 180_000);
    log('services up, every target observed');

    const kafka = testKafka(infra.KAFKA_BROKERS, `${name}-bench`);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    dlq = await collect(kafka, topics.deadLetter, `${name}-bench-dlq`);

    const rec = new LatencyRecorder();
    const outcomes: RolloutOutcome[] = [];
    /** Target -> when its last rollout was seen settled (see PDB_MEMORY_MS). */
    const lastEnded = new Map<string, number>();
    const s = stack;

    const token = (client: number) => s.tokens[`client-${client}`];

    async function waitSettled(client: number, id: string, op: string): Promise<string> {
      const deadline = Date.now() + SETTLE_TIMEOUT_MS;
      for (;;) {
        const r = await call<{ status: string }>(s, token(client), rec, op, `/v1/rollouts/${id}`);
        if (r.status === 200 && SETTLED.includes(r.body.status)) return r.body.status;
        if (Date.now() > deadline) return `stuck:${r.body?.status ?? r.status}`;
        await sleep(500);
      }
    }

    // ---- 0. idle: one rollout per cluster, then the probes alone.
    const t0 = Date.now();
    const idleTargets = contexts.map((c) => targets.find((t) => t.cluster === c)!);
    await Promise.all(
      idleTargets.map(async (t, i) => {
        const key = `${name}-idle-${i}`;
        const sentAt = Date.now();
        const r = await call<{ id: string }>(s, token(i), rec, 'idle:create', '/v1/rollouts', {
          body: {
            targets: [t],
            change: { kind: 'template', annotations: { [REQUEST_ANNOTATION]: key } },
          },
          headers: { 'idempotency-key': key },
        });
        if (r.status !== 201)
          throw new Error(`idle rollout: ${r.status} ${JSON.stringify(r.body)}`);
        const status = await waitSettled(i, r.body.id, 'idle:get');
        lastEnded.set(keyOf(t), Date.now());
        outcomes.push({
          key,
          target: keyOf(t),
          channel: 'idle',
          id: r.body.id,
          status,
          seconds: (Date.now() - sentAt) / 1000,
        });
      }),
    );
    const idleIds = outcomes.map((o) => o.id);
    log(`idle rollouts: ${outcomes.map((o) => `${o.status} ${o.seconds.toFixed(1)}s`).join(', ')}`);
    probe = new Probe(s, s.tokens.probe, new LatencyRecorder());
    probe.rolloutId = idleIds[0];
    probe.start();
    await sleep(prof.idleMs);
    const idleS = (Date.now() - t0) / 1000;

    // ---- A. REST: concurrent clients, plans and reads.
    probe.phase = 'A';
    log(`phase A: ${prof.clients} clients for ${prof.phaseAMs / 1000}s`);
    const aStart = Date.now();
    const aEnd = aStart + prof.phaseAMs;
    const expectA: Record<string, number> = {};
    let rnd = 1;
    const random = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31; // reproducible mix
    await Promise.all(
      Array.from({ length: prof.clients }, async (_, client) => {
        const me = token(client);
        while (Date.now() < aEnd) {
          const x = random();
          const t = targets[Math.floor(random() * targets.length)];
          const cluster = contexts[Math.floor(random() * contexts.length)];
          if (x < 0.3) {
            expectA['A:dry-run-1'] = 200;
            await call(s, me, rec, 'A:dry-run-1', '/v1/rollouts', {
              body: { targets: [t], change: { kind: 'restart' }, dryRun: true },
            });
          } else if (x < 0.45) {
            const start = Math.floor(random() * targets.length);
            const many = Array.from(
              { length: Math.min(5, targets.length) },
              (_, i) => targets[(start + i) % targets.length],
            );
            expectA['A:dry-run-5'] = 200;
            await call(s, me, rec, 'A:dry-run-5', '/v1/rollouts', {
              body: {
                targets: many,
                change: { kind: 'image', image: 'grafana/mimir:2.15.0' },
                maxParallelTargets: 2,
                canary: keyOf(many[0]),
                dryRun: true,
              },
            });
          } else if (x < 0.65) {
            const q = [
              'limit=50',
              'status=succeeded',
              `cluster=${cluster}&limit=20`,
              `status=running,pending,blocked&cluster=${cluster}`,
              'limit=1',
            ][Math.floor(random() * 5)];
            expectA['A:list'] = 200;
            const r = await call<{ nextCursor?: string }>(
              s,
              me,
              rec,
              'A:list',
              `/v1/rollouts?${q}`,
            );
            if (r.body?.nextCursor) {
              expectA['A:list-next-page'] = 200;
              await call(
                s,
                me,
                rec,
                'A:list-next-page',
                `/v1/rollouts?${q}&cursor=${encodeURIComponent(r.body.nextCursor)}`,
              );
            }
          } else if (x < 0.85) {
            expectA['A:get'] = 200;
            await call(s, me, rec, 'A:get', `/v1/rollouts/${idleIds[Math.floor(random() * 2)]}`);
          } else {
            expectA['A:events'] = 200;
            await call(s, me, rec, 'A:events', `/v1/rollouts/${idleIds[0]}/events`);
          }
        }
      }),
    );
    const aMs = Date.now() - aStart;

    // ---- B. real rollouts, half over REST, half as events; clashes while a target is busy.
    probe.phase = 'B';
    log(`phase B: ${prof.requests} rollout requests over ${targets.length} targets`);
    const bStart = Date.now();
    let next = 0;
    const counts = {
      restAccepted: 0,
      eventsSent: 0,
      eventsDuplicated: 0,
      eventsVisible: 0,
      idempotentReplays: 0,
      idempotencyBroken: 0,
      restRefused: 0,
      restClash409: 0,
      restClashAccepted: 0,
      eventClashes: 0,
      lostEvents: 0,
    };
    const visibleMs: number[] = [];
    const eventClashKeys: string[] = [];
    const acceptedKeys = new Set<string>();
    const clashKeys = new Set<string>();
    const problems: string[] = [];

    const sendEvent = async (t: Target, requestId: string, annotation: string) => {
      const event = {
        v: 1,
        type: ROLLOUT_REQUEST_TYPE,
        requestId,
        producer: PRODUCER,
        targets: [t],
        change: { kind: 'template', annotations: { [REQUEST_ANNOTATION]: annotation } },
      };
      await producer!.send({
        topic: topics.requests,
        messages: [
          {
            key: requestId,
            value: JSON.stringify(event),
            headers: requestAuth(s.tokens[PRODUCER]),
          },
        ],
      });
    };

    /** The rollout of `annotation` once GET /v1/rollouts?cluster= lists it. */
    const findListed = async (client: number, t: Target, annotation: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const r = await call<{ items: Summary[] }>(
          s,
          token(client),
          rec,
          'B:find',
          `/v1/rollouts?cluster=${encodeURIComponent(t.cluster)}&limit=25`,
        );
        const hit = r.body?.items?.find(
          (i) => i.change.annotations?.[REQUEST_ANNOTATION] === annotation,
        );
        if (hit) return hit;
        await sleep(100);
      }
      return undefined;
    };
    const deadLettered = (requestId: string) => dlq!.messages.some((m) => m.key === requestId);

    await Promise.all(
      targets.map(async (t, client) => {
        for (;;) {
          const lastEnd = lastEnded.get(keyOf(t));
          if (lastEnd !== undefined) await sleep(lastEnd + prof.gapMs - Date.now());
          const n = next++;
          if (n >= prof.requests) return;
          const viaRest = n % 2 === 0;
          const key = `${name}-${viaRest ? 'r' : 'e'}${n}`;
          const body = {
            targets: [t],
            change: { kind: 'template', annotations: { [REQUEST_ANNOTATION]: key } },
          };
          const sentAt = Date.now();
          let id: string | undefined;
          if (viaRest) {
            const post = () =>
              call<{ id: string }>(s, token(client), rec, 'B:create', '/v1/rollouts', {
                body,
                headers: { 'idempotency-key': key },
              });
            // Every fourth: the same request twice at once (a client that timed out and retried).
            const answers = n % 4 === 0 ? await Promise.all([post(), post()]) : [await post()];
            // Every fourth+2: retried after the answer (the answer was lost on the way).
            if (n % 4 === 2 && answers[0].status === 201) answers.push(await post());
            const created = answers.filter((a) => a.status === 201);
            const ids = new Set(answers.map((a) => a.body?.id));
            if (created.length === 1 && ids.size === 1) {
              id = created[0].body.id;
              counts.restAccepted++;
              counts.idempotentReplays += answers.length - 1;
            } else if (created.length > 1 || ids.size > 1) {
              counts.idempotencyBroken++;
              problems.push(`${key}: ${answers.map((a) => `${a.status} ${a.body?.id}`)}`);
            } else {
              counts.restRefused++;
              problems.push(`${key}: ${answers[0].status} ${JSON.stringify(answers[0].body)}`);
            }
            if (id) acceptedKeys.add(key);
          } else {
            await sendEvent(t, key, key);
            counts.eventsSent++;
            if (n % 3 === 1) {
              await sendEvent(t, key, key); // a producer retry: same requestId
              counts.eventsDuplicated++;
            }
            const hit = await findListed(client, t, key, VISIBLE_TIMEOUT_MS);
            if (hit) {
              id = hit.id;
              visibleMs.push(Date.now() - sentAt);
              counts.eventsVisible++;
              acceptedKeys.add(key);
            } else if (!deadLettered(key)) {
              counts.lostEvents++;
              problems.push(`${key}: event neither listed nor dead-lettered`);
            } else {
              problems.push(`${key}: event dead-lettered`);
            }
          }
          if (!id) continue;
          const waitFor = [id];
          // Every third: a clashing request for the same target while the rollout is active.
          if (n % 3 === 2) {
            const clash = `${key}-clash`;
            clashKeys.add(clash);
            const clashBody = {
              ...body,
              change: { kind: 'template', annotations: { [REQUEST_ANNOTATION]: clash } },
            };
            if (viaRest) {
              const r = await call<{ id: string }>(
                s,
                token(client),
                rec,
                'B:create-clash',
                '/v1/rollouts',
                { body: clashBody },
              );
              if (r.status === 409) counts.restClash409++;
              else if (r.status === 201) {
                counts.restClashAccepted++;
                waitFor.push(r.body.id);
              } else problems.push(`${clash}: ${r.status} ${JSON.stringify(r.body)}`);
            } else {
              await sendEvent(t, clash, clash);
              counts.eventClashes++;
              eventClashKeys.push(clash);
              // Settled one way or the other before the target is asked again: dead-lettered,
              // or (when the first ended before the planner read it) a rollout of its own.
              const deadline = Date.now() + VISIBLE_TIMEOUT_MS;
              while (Date.now() < deadline && !deadLettered(clash)) {
                const hit = await findListed(client, t, clash, 1);
                if (hit) {
                  waitFor.push(hit.id);
                  break;
                }
                await sleep(200);
              }
            }
          }
          for (const w of waitFor) {
            const status = await waitSettled(client, w, 'B:get');
            lastEnded.set(keyOf(t), Date.now());
            outcomes.push({
              key: w === id ? key : `${key}-clash`,
              target: keyOf(t),
              channel: viaRest ? 'rest' : 'event',
              id: w,
              status,
              seconds: (Date.now() - sentAt) / 1000,
            });
          }
        }
      }),
    );
    const bMs = Date.now() - bStart;
    await probe.stop();
    log('phase B done; checking');

    // ---- Correctness.
    await sleep(2000); // the observers see the last tombstones and readiness
    const reports = new Map<string, ObserverReport>();
    for (const [k, o] of observers) reports.set(k, o.stop());
    observers.clear();

    const all: Summary[] = [];
    let cursor: string | undefined;
    do {
      const page = `/v1/rollouts?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      let r = await s.api<{ items: Summary[]; nextCursor?: string }>(page);
      // The accounting waits out a database that another job restarts (see infraRefusals).
      for (let i = 0; r.status >= 500 && i < 60; i++) {
        await sleep(2000);
        r = await s.api<{ items: Summary[]; nextCursor?: string }>(page);
      }
      if (r.status !== 200) throw new Error(`final list: ${r.status}`);
      all.push(...r.body.items);
      cursor = r.body.nextCursor;
    } while (cursor);
    const byAnnotation = new Map<string, Summary[]>();
    for (const r of all) {
      const a = r.change.annotations?.[REQUEST_ANNOTATION] ?? '';
      byAnnotation.set(a, [...(byAnnotation.get(a) ?? []), r]);
    }
    let notExactlyOne = 0;
    for (const key of acceptedKeys)
      if (byAnnotation.get(key)?.length !== 1) {
        notExactlyOne++;
        problems.push(`${key}: ${byAnnotation.get(key)?.length ?? 0} rollouts`);
      }
    const stray = all.filter((r) => {
      const a = r.change.annotations?.[REQUEST_ANNOTATION] ?? '';
      return !acceptedKeys.has(a) && !clashKeys.has(a) && !a.startsWith(`${name}-idle-`);
    });
    for (const r of stray) problems.push(`stray rollout ${r.id} ${JSON.stringify(r.change)}`);
    // One active rollout per target: no two rollouts of a target overlap in time.
    let overlaps = 0;
    for (const t of targets) {
      const rs = all
        .filter((r) => r.targets.includes(keyOf(t)))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      for (let i = 1; i < rs.length; i++)
        if (Date.parse(rs[i].createdAt) < Date.parse(rs[i - 1].updatedAt)) {
          overlaps++;
          problems.push(`${keyOf(t)}: ${rs[i].id} created while ${rs[i - 1].id} was active`);
        }
    }
    const eventClashDeadLettered = eventClashKeys.filter(deadLettered).length;

    let violations = 0;
    let doubleRestarts = 0;
    let missedRestarts = 0;
    let unreplaced = 0; // original pods (Deployments' too) never replaced on a rolled target
    let foreign = 0; // deletions of pods no executor evicted or deleted (see restartedUids)
    const byExecutors = restartedUids(name);
    const violationLines: string[] = [];
    for (const t of targets) {
      const report = reports.get(keyOf(t))!;
      const rolled = all.filter((r) => r.targets.includes(keyOf(t))).length;
      const succeeded = all.filter(
        (r) => r.targets.includes(keyOf(t)) && r.status === 'succeeded',
      ).length;
      // Deletions no executor made in this target, to tell kwok's from the planner's doing.
      const foreignAt = Object.entries(report.deletedAt).flatMap(([pod, xs]) =>
        xs.filter((x) => !byExecutors.has(x.uid)).map((x) => ({ pod, at: x.at })),
      );
      violations += report.violations.length;
      for (const v of report.violations) {
        const near = foreignAt.filter((f) => Math.abs(f.at - v.at) < 30_000);
        violationLines.push(
          `${keyOf(t)} ${new Date(v.at).toISOString().slice(11, 23)} ${v.component}: ${v.what}${near.length ? ` (a deletion no executor made within 30 s: ${near.map((f) => f.pod).join(', ')})` : ''}`,
        );
      }
      if (succeeded > 0 && report.originalsDeleted < report.originals) {
        unreplaced += report.originals - report.originalsDeleted;
        problems.push(
          `${keyOf(t)}: ${report.originals - report.originalsDeleted} original pods never replaced`,
        );
      }
      for (const pod of stsPods.get(keyOf(t))!) {
        const d = report.deletions[pod] ?? 0;
        const ours = (report.deletedAt[pod] ?? []).filter((x) => byExecutors.has(x.uid)).length;
        foreign += d - ours;
        if (ours > rolled) doubleRestarts += ours - rolled;
        if (d < succeeded) missedRestarts += succeeded - d;
        if (d !== succeeded) {
          const windows = all
            .filter((r) => r.targets.includes(keyOf(t)))
            .map((r) => `${r.createdAt.slice(11, 23)}-${r.updatedAt.slice(11, 23)}`);
          const seen = (report.deletedAt[pod] ?? []).map(
            (x) =>
              `${new Date(x.at).toISOString().slice(11, 23)} ${x.uid.slice(0, 8)}${byExecutors.has(x.uid) ? '' : ' (no executor)'}`,
          );
          problems.push(
            `${keyOf(t)}/${pod}: deleted ${d}x (${seen.join(', ')}), ${succeeded} rollouts succeeded (${windows.join(', ')})`,
          );
        }
      }
    }

    // ---- Report.
    const restOps = (op: string) => op.startsWith('A:') || op.startsWith('B:');
    const unexpected = (op: string, status: number) => {
      if (status === 429 || status >= 500 || status === 0) return true;
      if (op === 'B:create') return status !== 201 && status !== 200;
      if (op === 'B:create-clash') return status !== 409 && status !== 201;
      return status !== (expectA[op] ?? 200);
    };
    let errors = 0;
    for (const op of rec.ops().filter(restOps))
      for (const [st, c] of Object.entries(rec.summary(op, 1).byStatus))
        if (unexpected(op, Number(st)) && Number(st) !== 429) errors += c;
    const http5xx = rec.countStatus((st) => st >= 500) + probe.rec.countStatus((st) => st >= 500);
    const rateLimited = rec.countStatus((st) => st === 429);
    const noAnswer = rec.countStatus((st) => st === 0) + probe.rec.countStatus((st) => st === 0);

    const row = (x: OpSummary) => [
      x.op,
      x.count,
      x.rps,
      x.p50,
      x.p90,
      x.p99,
      x.max,
      Object.entries(x.byStatus)
        .map(([k, v]) => `${k}:${v}`)
        .join(' '),
    ];
    const head = ['op', 'n', 'rps', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'statuses'];
    const aTotal = rec.total(aMs, 'A: all REST', (op) => op.startsWith('A:'));
    const bTotal = rec.total(bMs, 'B: all REST', (op) => op.startsWith('B:'));
    console.log(
      `\nload bench (${prof.label}): ${targets.length} targets (${contexts.length} clusters x ${prof.nsPerCluster} namespaces, ${targets.length * PODS_PER_TARGET} pods), 1 planner, 2 executors, 1 watcher; ${prof.clients} clients in phase A (${(aMs / 1000).toFixed(0)}s), ${targets.length} workers in phase B (${(bMs / 1000).toFixed(0)}s)\n`,
    );
    console.log(
      table(head, [
        ...rec
          .ops()
          .filter((op) => op.startsWith('A:'))
          .map((op) => row(rec.summary(op, aMs))),
        row(aTotal),
        ...rec
          .ops()
          .filter((op) => op.startsWith('B:'))
          .map((op) => row(rec.summary(op, bMs))),
        row(bTotal),
      ]),
    );
    const pr = probe.rec;
    const phaseMs: Record<string, number> = {
      idle: prof.idleMs,
      A: aMs,
      B: bMs,
    };
    console.log(
      `\nplanner responsiveness (one probe at a time, every 250 ms)\n${table(
        head,
        pr.ops().map((op) => row(pr.summary(op, phaseMs[op.split(':')[0]]))),
      )}`,
    );
    const p99 = (op: string) => pr.summary(op, 1).p99;
    const healthRatio = Math.max(p99('A:healthz'), p99('B:healthz')) / p99('idle:healthz');
    const getRatio = Math.max(p99('A:get'), p99('B:get')) / p99('idle:get');

    const real = outcomes.filter((o) => o.channel !== 'idle');
    const succeeded = real.filter((o) => o.status === 'succeeded');
    const durations = real.map((o) => o.seconds).sort((a, b) => a - b);
    const idleDur = outcomes.filter((o) => o.channel === 'idle').map((o) => o.seconds);
    const visible = [...visibleMs].sort((a, b) => a - b);
    const perMin = succeeded.length / (bMs / 60_000);
    const rolloutP50 = percentile(durations, 50);
    const idleP50 = percentile(
      [...idleDur].sort((a, b) => a - b),
      50,
    );
    console.log(
      `\nrollouts: ${real.length} settled in phase B (${succeeded.length} succeeded; ${
        real
          .filter((o) => o.status !== 'succeeded')
          .map((o) => `${o.key}=${o.status}`)
          .join(' ') || 'none other'
      }), ${perMin.toFixed(1)}/min
  REST: ${counts.restAccepted} accepted (201), ${counts.idempotentReplays} idempotent replays answered with the same rollout, ${counts.idempotencyBroken} broken, ${counts.restRefused} refused
  events: ${counts.eventsSent} sent (+${counts.eventsDuplicated} duplicates), ${counts.eventsVisible} became rollouts, ${counts.lostEvents} lost
  clashes (a second request for a busy target): REST ${counts.restClash409}x 409, ${counts.restClashAccepted}x accepted; events ${eventClashDeadLettered}/${counts.eventClashes} dead-lettered
  end to end (request -> settled): p50 ${rolloutP50.toFixed(1)}s p99 ${percentile(durations, 99).toFixed(1)}s max ${durations[durations.length - 1]?.toFixed(1)}s; idle alone ${idleDur.map((d) => d.toFixed(1)).join(', ')}s
  event -> listed: p50 ${percentile(visible, 50).toFixed(0)} ms p99 ${percentile(visible, 99).toFixed(0)} ms
correctness: violations=${violations} double_restarts=${doubleRestarts} foreign_deletions=${foreign} missed_restarts=${missedRestarts} unreplaced=${unreplaced} not_exactly_one=${notExactlyOne} stray=${stray.length} overlaps=${overlaps} http_5xx=${http5xx} no_answer=${noAnswer}
ratios (same run): healthz p99 load/idle ${healthRatio.toFixed(2)}, GET rollout p99 load/idle ${getRatio.toFixed(2)}, rollout p50 load/idle ${(rolloutP50 / idleP50).toFixed(2)}
setup+idle ${((aStart - started) / 1000).toFixed(0)}s (idle phase ${idleS.toFixed(0)}s); logs: .ringmaster/logs/${name}-*.log`,
    );
    if (violationLines.length)
      console.log(`\nviolations (observers):\n  ${violationLines.join('\n  ')}`);
    if (problems.length)
      console.log(`\nproblems (first 30):\n  ${problems.slice(0, 30).join('\n  ')}`);
    const pdb = pdbRefusals(name);
    console.log(
      `\nexecutors: ${pdb.commands} evictions refused by a PodDisruptionBudget (${pdb.attempts} attempts), longest ${pdb.longestS.toFixed(0)}s; each refusal holds every later command of its Kafka partition`,
    );
    const infraDown = infraRefusals(name);
    if (infraDown > 0)
      console.log(
        `infrastructure: the planner logged ${infraDown} refused connections to Kafka/Postgres: something restarted them during the run (another job?); figures and 5xx are not load alone`,
      );
    const lost = counts.lostEvents + notExactlyOne;
    const failed = real.length - succeeded.length;
    console.log(
      `load: targets=${targets.length} pods=${targets.length * PODS_PER_TARGET} clients=${prof.clients} rest_rps=${aTotal.rps.toFixed(1)} rest_p50_ms=${aTotal.p50.toFixed(1)} rest_p99_ms=${aTotal.p99.toFixed(1)} errors=${errors} http_5xx=${http5xx} rate_limited=${rateLimited} rollouts=${succeeded.length} failed=${failed} rest_requests=${counts.restAccepted} events=${counts.eventsSent} deduped=${counts.idempotentReplays + counts.eventsDuplicated} conflicts=${counts.restClash409 + eventClashDeadLettered} rollouts_per_min=${perMin.toFixed(1)} rollout_p50_s=${rolloutP50.toFixed(1)} rollout_p99_s=${percentile(durations, 99).toFixed(1)} visible_p50_ms=${percentile(visible, 50).toFixed(0)} visible_p99_ms=${percentile(visible, 99).toFixed(0)} healthz_p99_ratio=${healthRatio.toFixed(2)} get_p99_ratio=${getRatio.toFixed(2)} rollout_p50_ratio=${(rolloutP50 / idleP50).toFixed(2)} pdb_refused=${pdb.commands} pdb_longest_s=${pdb.longestS.toFixed(0)} violations=${violations} double_restarts=${doubleRestarts} foreign_deletions=${foreign} missed_restarts=${missedRestarts} lost=${lost} overlaps=${overlaps} infra_refusals=${infraDown} wall_s=${((Date.now() - started) / 1000).toFixed(0)}`,
    );
    const ok =
      errors === 0 &&
      unreplaced === 0 &&
      violations === 0 &&
      doubleRestarts === 0 &&
      missedRestarts === 0 &&
      lost === 0 &&
      overlaps === 0 &&
      stray.length === 0 &&
      http5xx === 0 &&
      failed === 0 &&
      counts.idempotencyBroken === 0 &&
      counts.restRefused === 0;
    return ok ? 0 : 1;
  } finally {
    await probe?.stop();
    for (const o of observers.values()) o.stop();
    await dlq?.consumer.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await (prof.keep ? stack?.stop() : stack?.dispose());
    if (!prof.keep) for (const t of targets) deleteNamespace(kubeconfig, t.cluster, t.namespace);
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.stack : e);
    process.exit(1);
  },
);
