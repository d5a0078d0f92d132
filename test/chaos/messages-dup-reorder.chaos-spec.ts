/**
 * Chaos: duplicated and reordered messages on the run's own topics. A test-side duplicator
 * (its own consumer group and producer) follows the topics during a rollout and publishes, to
 * the same partition, marked with a header so it never copies its own copies:
 *
 *  - a copy of every command on `rollout.commands`, half at once and half after a seeded delay
 *    of up to 3 s (so copies arrive behind later commands of the cluster);
 *  - a copy of about half of the results on `rollout.command-results`, after up to 2 s;
 *  - on `cluster.pods` and `cluster.workloads`, the previous observation of an object again
 *    right after each newer one (a tombstone included: the deleted pod comes back, stale,
 *    until its replacement is observed), as a lagging second watcher would.
 *
 * Each case asserts: no pod restarted twice (a duplicated eviction hits a replaced uid), no
 * premature release (the observer's limits: a stale Ready observation must not count as a
 * replacement back), every rollout succeeded, nothing lost. The second case also SIGKILLs the
 * planner mid-rollout: its restart replays the compacted topics with the stale copies in them.
 */
import { Partitioners, type Producer } from 'kafkajs';
import { runName } from '../support/stack';
import { sleep } from '../e2e/e2e.helpers';
import {
  CHAOS_SEED,
  ChaosCase,
  ChaosEnv,
  draws,
  expectCaseClean,
  seededRandom,
  type Seen,
} from './process.helpers';

jest.setTimeout(600_000);

const CASES = ['duplicates', 'duplicates-planner'];
/** Marks the duplicator's own messages (never copied again). */
const COPY_HEADER = 'ringmaster-chaos-copy';

/** Copies and stale re-publications for one namespace at a time (see the file comment). */
class Duplicator {
  private producer!: Producer;
  private namespace?: string;
  private readonly previous = new Map<string, Seen>();
  private readonly pending = new Set<Promise<void>>();
  readonly counts = { commands: 0, results: 0, stalePods: 0, staleWorkloads: 0, tombstones: 0 };

  constructor(
    private readonly env: ChaosEnv,
    private readonly random: () => number,
  ) {}

  async start(): Promise<void> {
    this.producer = this.env.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
    const t = this.env.topics;
    const workloads = `${this.env.o.name}.cluster.workloads`;
    await this.env.follow('dup', [t.commands, t.results, t.pods, workloads], (topic, m) =>
      this.onMessage(topic, m),
    );
  }

  /** Acts on messages of `namespace` from now on (its rollout's commands and results). */
  arm(namespace: string): void {
    this.namespace = namespace;
  }

  async disarm(): Promise<void> {
    this.namespace = undefined;
    await Promise.all(this.pending);
  }

  async stop(): Promise<void> {
    await this.disarm();
    await this.producer?.disconnect();
  }

  private onMessage(topic: string, m: Seen): void {
    if (m.headers[COPY_HEADER]) return;
    const t = this.env.topics;
    const stateTopic = topic === t.pods || topic.endsWith('.cluster.workloads');
    const prev = stateTopic ? this.previous.get(`${topic}|${m.key}`) : undefined;
    if (stateTopic) this.previous.set(`${topic}|${m.key}`, m);
    const ns = this.namespace;
    if (!ns) return;
    if (stateTopic) {
      if (!m.key?.includes(`/${ns}/`) || !prev || prev.value === null) return;
      // The older observation again, right behind the newer one.
      if (topic === t.pods) this.counts.stalePods++;
      else this.counts.staleWorkloads++;
      if (m.value === null) this.counts.tombstones++;
      this.copy(topic, prev, draws(this.random, 1, 0, 300)[0]);
      return;
    }
    const body = JSON.parse(m.value ?? '{}') as { target?: { namespace?: string } };
    if (body.target?.namespace !== ns) return;
    if (topic === t.commands) {
      this.counts.commands++;
      this.copy(topic, m, this.random() < 0.5 ? 0 : draws(this.random, 1, 500, 3000)[0]);
    } else if (topic === t.results && this.random() < 0.5) {
      this.counts.results++;
      this.copy(topic, m, draws(this.random, 1, 0, 2000)[0]);
    }
  }

  private copy(topic: string, m: Seen, delayMs: number): void {
    const p = sleep(delayMs).then(() =>
      this.producer
        .send({
          topic,
          acks: -1,
          messages: [
            {
              key: m.key,
              value: m.value,
              partition: m.partition,
              headers: { ...m.headers, [COPY_HEADER]: '1' },
            },
          ],
        })
        .then(() => undefined),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

describe('chaos: duplicated and reordered messages', () => {
  const env = new ChaosEnv({
    name: runName('chaos-msg'),
    plannerPort: 18343,
    label: 'messages',
    cases: CASES,
    executors: ['executor-1', 'executor-2'],
  });
  const random = seededRandom(CHAOS_SEED + 2);
  const dup = new Duplicator(env, random);

  beforeAll(async () => {
    console.log(`chaos seed ${CHAOS_SEED} (RINGMASTER_CHAOS_SEED repeats it)`);
    await env.start();
    await dup.start();
  });

  afterAll(async () => {
    await dup.stop().catch(() => undefined);
    await env.stop();
  });

  it('every command duplicated, results duplicated late, stale observations after newer ones', async () => {
    const c = new ChaosCase(env, 'duplicates');
    await c.begin();
    dup.arm(c.namespace);
    await c.createRollout();
    const o = await c.finish(() => ({ ...dup.counts }));
    await dup.disarm();
    console.log(`duplicator: ${JSON.stringify(dup.counts)}`);
    expect(dup.counts.commands).toBeGreaterThan(0);
    expect(dup.counts.stalePods).toBeGreaterThan(0);
    expectCaseClean(o);
  });

  it('the same, and the planner SIGKILLed mid-rollout: its replay of the topics holds the stale copies', async () => {
    const before = { ...dup.counts };
    const c = new ChaosCase(env, 'duplicates-planner');
    await c.begin();
    dup.arm(c.namespace);
    const first = c.nextEviction();
    await c.createRollout();
    await first;
    const [afterMs] = draws(random, 1, 500, 3000);
    await sleep(afterMs);
    await env.stack.kill('planner', 'SIGKILL');
    await env.restartPlanner();
    const counts = () =>
      Object.fromEntries(
        Object.entries(dup.counts).map(([k, v]) => [k, v - before[k as keyof typeof before]]),
      );
    const o = await c.finish(() => ({ ...counts(), plannerKilledAfterMs: afterMs }));
    await dup.disarm();
    console.log(`duplicator: ${JSON.stringify(counts())}`);
    expectCaseClean(o);
  });
});
