/**
 * Monolithic Mimir (StatefulSet `mimir`, component `all`): one instance at a time, and the next
 * only after the previous replacement is Ready AND its `/ready` answered 200. kwok pods run no
 * process, so the ready stub stands in for Mimir's `/ready`: 200 once a pod has been Ready for
 * READY_STUB_DELAY_MS (3 s here); the health watcher probes it and the planner waits for it.
 *
 * Asserted from the test's own pod watch: each next eviction starts no earlier than the
 * previous replacement's Ready + the stub delay (minus a small tolerance for the two watches
 * seeing the same event at slightly different moments); and from the observer: never more than
 * one instance unavailable.
 */
import { AvailabilityObserver } from '../support/availability.observer';
import { Stack, deleteNamespace, runName } from '../support/stack';
import {
  PodTimeline,
  SETTLED,
  expectNoViolations,
  postWhenObserved,
  progressLine,
  sleep,
  statefulSetPodNames,
  type RolloutView,
  startE2eStack,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18204;
const STUB_PORT = 18254;
const STUB_DELAY_MS = 3000;
/** Slack between the stub's and this test's watches seeing one Ready transition. */
const TOLERANCE_MS = 300;

describe('monolithic rollout gated on /ready (e2e)', () => {
  const name = runName('e2e-mono');
  const ns = name;
  let kubeconfig: string;
  let context: string;
  let stack: Stack;

  beforeAll(async () => {
    ({
      stack,
      kubeconfig,
      contexts: [context],
    } = await startE2eStack({
      name,
      plannerPort: PORT,
      layout: 'monolithic',
      readyStub: { port: STUB_PORT, delayMs: STUB_DELAY_MS },
    }));
  });

  afterAll(async () => {
    await stack?.dispose();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  it('restarts one instance at a time, each next only after Ready + /ready 200', async () => {
    const stsPods = statefulSetPodNames(kubeconfig, context, ns);
    expect(stsPods).toEqual(['mimir-0', 'mimir-1', 'mimir-2']);
    // The rollout is requested as soon as the planner is ready, while the watcher's first /ready
    // probes may still be unknown: unknown must hold the rollout back, not count as down.
    const observer = new AvailabilityObserver(kubeconfig, context, ns);
    const timeline = new PodTimeline(kubeconfig, context, ns);
    await observer.start();
    await timeline.start();

    const t0 = Date.now();
    const created = await postWhenObserved<
      RolloutView & {
        plan: { targets: { components: { component: string; policy: { limit: number } }[] }[] };
      }
    >(stack, {
      targets: [{ cluster: context, namespace: ns }],
      change: { kind: 'restart' },
    });
    expect(created.status).toBe(201);
    expect(created.body.plan.targets[0].components).toEqual([
      expect.objectContaining({ component: 'all', policy: expect.objectContaining({ limit: 1 }) }),
    ]);
    const rollout = await stack.waitRollout<RolloutView>(
      created.body.id,
      (x) => SETTLED.includes(x.status),
      240_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    await sleep(1500);
    const report = observer.stop();
    const events = timeline.stop();
    const rel = (at: number) => ((at - t0) / 1000).toFixed(2);
    console.log(
      `monolithic: ${rollout.status} in ${seconds}s; ${progressLine(rollout)}\nobserver: maxUnavailable ${JSON.stringify(report.maxUnavailable)} deletions ${JSON.stringify(report.deletions)}\ntimeline: ${events.map((e) => `+${rel(e.at)}s ${e.pod} ${e.what} ${e.uid.slice(0, 8)}`).join('; ')}`,
    );

    expect(rollout.status).toBe('succeeded');
    expectNoViolations(report);
    expect(report.maxUnavailable['all']).toBe(1);
    expect(report.deletions).toEqual({ 'mimir-0': 1, 'mimir-1': 1, 'mimir-2': 1 });
    expect(report.originalsDeleted).toBe(3);

    // From the test's own watch: deletion i+1 waits for replacement i's Ready + the stub delay.
    const deletions = events.filter((e) => e.what === 'deleting');
    expect(deletions).toHaveLength(3);
    const gaps: string[] = [];
    for (let i = 0; i < deletions.length; i++) {
      const d = deletions[i];
      const replacementReady = events.find(
        (e) => e.what === 'ready' && e.pod === d.pod && e.uid !== d.uid && e.at > d.at,
      );
      expect(replacementReady).toBeDefined();
      const next = deletions[i + 1];
      if (!next) continue;
      // One at a time: the next instance goes only after this one is back...
      expect(next.at).toBeGreaterThan(replacementReady!.at);
      // ...and has been Ready for the stub's delay (so /ready had answered 200).
      gaps.push(`${d.pod} ready -> ${next.pod} deleting: ${next.at - replacementReady!.at} ms`);
      expect(next.at - replacementReady!.at).toBeGreaterThanOrEqual(STUB_DELAY_MS - TOLERANCE_MS);
    }
    console.log(gaps.join('; '));
  });
});
