/**
 * Chaos: the infrastructure under the services restarts mid-rollout. The shared Kafka broker
 * (infra/kafka/kafka.sh stop, then start) and our Postgres cluster on 127.0.0.1:15432
 * (infra/postgres/postgres.sh stop, then start). Only inside the chaos lane, under the heavy
 * lock, and each is started again at once (also when a case fails: finally, and afterAll
 * brings both up). One stack, a namespace with the fixture per case, the observer throughout.
 *
 *  - kafka: the broker stops at the first eviction and is started again: every service
 *    reconnects (producers, the executor's and the planner's groups, the planner's view of the
 *    compacted topics), the rollout completes, no command or result is lost;
 *  - postgres: Postgres stops shortly after the first eviction and starts again seconds later:
 *    the planner's saves and outbox relay wait and resume;
 *  - together: Postgres and Kafka down at once, and the planner SIGKILLed and started again
 *    while the database is still down: it waits for Postgres and resumes the rollout.
 */
import { execFileSync } from 'node:child_process';
import { ROOT, ensureInfra, runName } from '../support/stack';
import { sleep } from '../e2e/e2e.helpers';
import {
  CHAOS_SEED,
  ChaosCase,
  ChaosEnv,
  draws,
  expectCaseClean,
  seededRandom,
} from './process.helpers';

jest.setTimeout(600_000);

const CASES = ['kafka', 'postgres', 'together'];

type Infra = 'kafka' | 'postgres';

/** infra/<name>/<name>.sh stop|start; returns how long it took (ms). */
function infra(name: Infra, verb: 'stop' | 'start'): number {
  const t0 = Date.now();
  execFileSync('bash', [`infra/${name}/${name}.sh`, verb], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return Date.now() - t0;
}

/** Stops `names`, runs `during`, then starts them again whatever happened. */
async function outage<T>(names: Infra[], during: () => Promise<T>) {
  const stopMs: Record<string, number> = {};
  const startMs: Record<string, number> = {};
  const t0 = Date.now();
  let result: T;
  try {
    for (const n of names) stopMs[n] = infra(n, 'stop');
    result = await during();
  } finally {
    for (const n of [...names].reverse()) startMs[n] = infra(n, 'start');
  }
  return { result, stopMs, startMs, outageMs: Date.now() - t0 };
}

describe('chaos: Kafka and Postgres restarted mid-rollout', () => {
  const env = new ChaosEnv({
    name: runName('chaos-infra'),
    plannerPort: 18342,
    label: 'infra',
    cases: CASES,
    executors: ['executor-1'],
  });
  const random = seededRandom(CHAOS_SEED + 1);

  beforeAll(async () => {
    console.log(`chaos seed ${CHAOS_SEED} (RINGMASTER_CHAOS_SEED repeats it)`);
    await env.start();
  });

  afterAll(async () => {
    ensureInfra(); // both up again, whatever a failed case left behind
    await env.stop();
  });

  it('Kafka broker restarted mid-rollout: services reconnect, the rollout completes, nothing lost', async () => {
    const c = new ChaosCase(env, 'kafka');
    await c.begin();
    const first = c.nextEviction();
    await c.createRollout();
    await first;
    const [downMs] = draws(random, 1, 0, 3000);
    const o1 = await outage(['kafka'], () => sleep(downMs));
    console.log(`kafka outage: ${JSON.stringify(o1)}`);
    const o = await c.finish(() => ({ downMs, ...o1 }));
    expectCaseClean(o);
  });

  it('Postgres restarted mid-rollout: saves and the outbox relay wait and resume, nothing lost', async () => {
    const c = new ChaosCase(env, 'postgres');
    await c.begin();
    const first = c.nextEviction();
    const id = await c.createRollout();
    await first;
    const [afterMs, downMs] = [...draws(random, 1, 0, 1500), ...draws(random, 1, 2000, 5000)];
    await sleep(afterMs);
    const o1 = await outage(['postgres'], async () => {
      // The API meanwhile: 503 with Retry-After (nothing applied, send again), not a 500.
      const during = await env.stack.api<{ message: string }>(`/v1/rollouts/${id}`);
      await sleep(downMs);
      return { status: during.status, retryAfter: during.headers.get('retry-after') };
    });
    console.log(`postgres outage: ${JSON.stringify(o1)}`);
    expect(o1.result).toEqual({ status: 503, retryAfter: '2' });
    const o = await c.finish(() => ({ afterMs, downMs, ...o1 }));
    expectCaseClean(o);
  });

  it('together: Postgres and Kafka down at once, the planner SIGKILLed and started during the outage', async () => {
    const c = new ChaosCase(env, 'together');
    await c.begin();
    const first = c.nextEviction();
    await c.createRollout();
    await first;
    const [downMs] = draws(random, 1, 2000, 5000);
    const o1 = await outage(['postgres', 'kafka'], async () => {
      await env.stack.kill('planner', 'SIGKILL');
      env.stack.start('planner');
      await sleep(downMs);
    });
    await env.stack.waitReady();
    console.log(`together: ${JSON.stringify(o1)}`);
    const o = await c.finish(() => ({ downMs, ...o1, exited: env.stack.exited() }));
    expect(env.stack.exited()).toEqual({});
    expectCaseClean(o);
  });
});
