/**
 * Chaos: the services die (SIGKILL) mid-rollout. One stack (one cluster, two executors in one
 * group), a namespace with the Mimir fixture per case, a restart rollout per case; the
 * independent observer and the test's own pod watch run throughout. Each case records its
 * counts (process.helpers.ts) and then asserts them.
 *
 *  - planner: killed at seeded random points, restarted each time: it resumes from Postgres and
 *    re-issues nothing that already took effect (no second command for a pod uid, every pod
 *    deleted once);
 *  - executor: killed the moment its eviction went through (the test's watch sees a pod of the
 *    rollout start terminating), before or while it reports; the other executor takes the
 *    cluster's partition over, and the redelivered command must not evict the replacement;
 *  - health watcher: killed at the first eviction and kept down for seconds while replacements
 *    come back; restarted, it re-lists. The planner must not take the stale view (old pods
 *    Ready, replacements unseen) for readiness: no limit exceeded while it was down or after;
 *  - together: all three in one rollout.
 */
import { runName } from '../support/stack';
import { sleep, SETTLED } from '../e2e/e2e.helpers';
import {
  CHAOS_SEED,
  ChaosCase,
  ChaosEnv,
  EvictionGate,
  armExecutorKill,
  draws,
  expectCaseClean,
  reportOf,
  seededRandom,
  type ExecutorKill,
} from './process.helpers';

jest.setTimeout(600_000);

const CASES = ['planner', 'executor', 'watcher', 'together'];
const EXECUTORS = ['executor-1', 'executor-2'];

describe('chaos: services killed mid-rollout', () => {
  const env = new ChaosEnv({
    name: runName('chaos-kill'),
    plannerPort: 18341,
    label: 'kill',
    cases: CASES,
    executors: EXECUTORS,
  });
  const random = seededRandom(CHAOS_SEED);
  const gate = new EvictionGate(env, 18351);

  beforeAll(async () => {
    console.log(`chaos seed ${CHAOS_SEED} (RINGMASTER_CHAOS_SEED repeats it)`);
    await env.start();
    await gate.start();
  });

  afterAll(async () => {
    await gate.close();
    await env.stop();
  });

  /**
   * The killed executor never reported; the survivor answered the redelivered command without
   * acting again (already-done: the pod it names is terminating or replaced).
   */
  function expectTakenOver(kill: ExecutorKill) {
    const r = reportOf(env, kill);
    expect(r.victimReported).toBe(false);
    expect(r.answers).not.toEqual([]);
    expect(r.answers.filter((a) => !a.endsWith(':already-done'))).toEqual([]);
  }

  it('planner SIGKILLed at seeded random points, restarted: resumes from Postgres, re-issues nothing', async () => {
    const c = new ChaosCase(env, 'planner');
    await c.begin();
    const id = await c.createRollout();
    const kills: { afterMs: number; deletedBefore: number }[] = [];
    const t0 = Date.now();
    for (const delay of draws(random, 3, 300, 3500)) {
      await sleep(delay);
      if (SETTLED.includes((await c.status(id)) ?? 'running')) break;
      kills.push({
        afterMs: Date.now() - t0,
        deletedBefore: Object.keys(c.observer.snapshot().deletions).length,
      });
      await env.stack.kill('planner', 'SIGKILL');
      await env.restartPlanner();
    }
    console.log(`planner kills: ${JSON.stringify(kills)}`);
    const o = await c.finish(() => ({ kills }));
    expect(kills.length).toBeGreaterThan(0);
    expectCaseClean(o);
  });

  it('executor SIGKILLed between its eviction and its report: the other takes over, the replacement is not evicted', async () => {
    const c = new ChaosCase(env, 'executor');
    await c.begin();
    const victim = await env.executorOfCluster();
    const { killed } = await armExecutorKill(gate, c, victim);
    await c.createRollout();
    const kill = await killed;
    const o = await c.finish(() => ({ kill, ...reportOf(env, kill) }));
    console.log(`executor kill: ${JSON.stringify({ ...kill, ...reportOf(env, kill) })}`);
    env.startExecutor(victim);
    expectCaseClean(o);
    expectTakenOver(kill);
  });

  it('health watcher SIGKILLed at the first eviction, down for seconds, restarted: no stale readiness', async () => {
    const c = new ChaosCase(env, 'watcher');
    await c.begin();
    const first = c.nextEviction();
    await c.createRollout();
    await first;
    await env.stack.kill('health-watcher', 'SIGKILL');
    const downAt = Date.now();
    const [downMs] = draws(random, 1, 4000, 8000);
    await sleep(downMs);
    const violationsWhileDown = c.observer.snapshot().violations.length;
    const upAt = Date.now();
    env.stack.start('health-watcher');
    const detail = () => {
      const whileDown = c.timeline.events.filter(
        (e) => e.at >= downAt && e.at <= upAt && c.stsPods.includes(e.pod),
      );
      return {
        downMs,
        statefulSetEvictionsWhileDown: whileDown.filter((e) => e.what === 'deleting').length,
        statefulSetReadyWhileDown: whileDown.filter((e) => e.what === 'ready').length,
        violationsWhileDown,
      };
    };
    const o = await c.finish(detail);
    console.log(`watcher down: ${JSON.stringify(detail())}`);
    expect(violationsWhileDown).toBe(0);
    expectCaseClean(o);
  });

  it('together: executor and watcher killed at the first eviction, the planner later, all restarted', async () => {
    const c = new ChaosCase(env, 'together');
    await c.begin();
    const victim = await env.executorOfCluster();
    const armed = await armExecutorKill(gate, c, victim);
    const killed = armed.killed.then(async (k) => {
      await env.stack.kill('health-watcher', 'SIGKILL');
      return k;
    });
    const id = await c.createRollout();
    const kill = await killed;
    const [watcherDownMs, plannerAfterMs] = draws(random, 2, 2000, 6000);
    await sleep(Math.min(watcherDownMs, plannerAfterMs));
    let plannerKilled = false;
    if (plannerAfterMs <= watcherDownMs) {
      await env.stack.kill('planner', 'SIGKILL');
      plannerKilled = true;
      await sleep(watcherDownMs - plannerAfterMs);
      env.stack.start('health-watcher');
      await env.restartPlanner();
    } else {
      env.stack.start('health-watcher');
      await sleep(plannerAfterMs - watcherDownMs);
      if (!SETTLED.includes((await c.status(id)) ?? 'running')) {
        await env.stack.kill('planner', 'SIGKILL');
        plannerKilled = true;
        await env.restartPlanner();
      }
    }
    const faults = () => ({
      kill,
      ...reportOf(env, kill),
      watcherDownMs,
      plannerAfterMs,
      plannerKilled,
    });
    const o = await c.finish(faults);
    console.log(`together: ${JSON.stringify(faults())}`);
    env.startExecutor(victim);
    expectCaseClean(o);
    expectTakenOver(kill);
  });
});
