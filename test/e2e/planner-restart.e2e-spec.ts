/**
 * The planner dies (SIGKILL) mid-rollout and is started again: it resumes the rollout from
 * Postgres, re-issues nothing that already took effect, and the rollout ends succeeded with
 * every pod replaced exactly once and no limit exceeded (the observer's own watch).
 */
import { AvailabilityObserver, restartsSeen } from '../support/availability.observer';
import { Stack, deleteNamespace, runName } from '../support/stack';
import { waitFor } from '../support/wait-for';
import {
  SETTLED,
  expectNoViolations,
  postWhenObserved,
  progressLine,
  statefulSetPodNames,
  type RolloutView,
  startE2eStack,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18207;

describe('planner killed mid-rollout (e2e)', () => {
  const name = runName('e2e-replan');
  const ns = name;
  let kubeconfig: string;
  let context: string;
  let stack: Stack;

  beforeAll(async () => {
    ({
      stack,
      kubeconfig,
      contexts: [context],
    } = await startE2eStack({ name, plannerPort: PORT }));
  });

  afterAll(async () => {
    await stack?.dispose();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  it('resumes from Postgres after a SIGKILL and finishes; no pod replaced twice', async () => {
    const stsPods = statefulSetPodNames(kubeconfig, context, ns);
    const observer = new AvailabilityObserver(kubeconfig, context, ns);
    await observer.start();
    const created = await postWhenObserved<RolloutView>(stack, {
      targets: [{ cluster: context, namespace: ns }],
      change: { kind: 'restart' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    // Kill it once restarts are under way (the observer saw pods go), not before.
    await waitFor(
      'the first restarts',
      () => Object.keys(observer.snapshot().deletions).length >= 2,
      60_000,
      50,
    );
    await stack.kill('planner', 'SIGKILL');
    stack.start('planner');
    await stack.waitReady();

    const done = await stack.waitRollout<RolloutView>(
      id,
      (x) => SETTLED.includes(x.status),
      180_000,
    );
    console.log(progressLine(done));
    expect(done.status).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 1500));
    const report = observer.stop();
    expectNoViolations(report);
    expect(Object.keys(report.deletions).sort()).toEqual(stsPods);
    expect(Object.values(restartsSeen(report)).every((n) => n === 1)).toBe(true);
    expect(report.originalsDeleted).toBe(report.originals);

    const events = await stack.api<{ items: { type: string }[] }>(`/v1/rollouts/${id}/events`);
    expect(events.body.items.map((e) => e.type)).toContain('succeeded');
  });
});
