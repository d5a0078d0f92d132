/**
 * A replacement that never becomes Ready blocks the rollout, and nothing else is touched.
 *
 * The fixture is applied healthy, then re-applied with `ingester-zone-a=never-ready` on that
 * StatefulSet's pod template (kwok Stages act on pod creation: the running pods stay Ready; a
 * pod recreated after an eviction never turns Ready). An ingester-only rollout with a 20 s
 * instance timeout takes zone-a first, its replacements never come back: the rollout turns
 * `blocked` naming the pod; abort ends it `aborted`; only zone-a's first wave was restarted.
 */
import { AvailabilityObserver, restartsSeen } from '../support/availability.observer';
import { Stack, deleteNamespace, runName } from '../support/stack';
import {
  SETTLED,
  expectNoViolations,
  postWhenObserved,
  progressLine,
  sleep,
  type RolloutView,
  startE2eStack,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18205;

describe('a replacement that never becomes Ready blocks the rollout (e2e)', () => {
  const name = runName('e2e-never');
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
      faults: ['ingester-zone-a=never-ready'],
    }));
  });

  afterAll(async () => {
    await stack?.dispose();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  it('blocks with the pod named after the instance timeout; abort ends it; nothing else restarted', async () => {
    const observer = new AvailabilityObserver(kubeconfig, context, ns);
    await observer.start();
    const t0 = Date.now();
    const created = await postWhenObserved<RolloutView>(stack, {
      targets: [{ cluster: context, namespace: ns }],
      change: { kind: 'restart' },
      components: ['ingester'],
      instanceTimeoutSeconds: 20,
    });
    expect(created.status).toBe(201);

    const blocked = await stack.waitRollout<RolloutView>(
      created.body.id,
      (x) => SETTLED.includes(x.status),
      120_000,
    );
    const blockedAfter = (Date.now() - t0) / 1000;
    console.log(
      `${blocked.status} after ${blockedAfter}s: ${blocked.reason}\n${progressLine(blocked)}`,
    );
    expect(blocked.status).toBe('blocked');
    expect(blocked.reason).toMatch(/mimir-ingester-zone-a-[01]/);
    // Not before the instance timeout.
    expect(blockedAfter).toBeGreaterThanOrEqual(20);
    const ingester = blocked.targetProgress[0].components.find((c) => c.component === 'ingester')!;
    expect(ingester.status).toBe('halted');
    expect(blocked.targetProgress[0].components.map((c) => c.component)).toEqual(['ingester']);

    const aborted = await stack.api<{ status: string }>(`/v1/rollouts/${created.body.id}/abort`, {
      body: { reason: 'e2e: zone-a replacements never become Ready' },
    });
    expect(aborted.status).toBe(200);
    expect(aborted.body.status).toBe('aborted');
    const final = await stack.waitRollout<RolloutView>(
      created.body.id,
      (x) => x.status !== 'blocked',
      30_000,
    );
    expect(final.status).toBe('aborted');

    // Nothing more happens after the abort.
    await sleep(5000);
    const report = observer.stop();
    console.log(
      `observer: maxUnavailable ${JSON.stringify(report.maxUnavailable)} maxZonesDisrupted ${JSON.stringify(report.maxZonesDisrupted)} deletions ${JSON.stringify(report.deletions)} originals ${report.originalsDeleted}/${report.originals}`,
    );
    expectNoViolations(report);
    const deleted = Object.keys(report.deletions);
    expect(deleted.length).toBeGreaterThan(0);
    // Only zone-a's first wave: no other zone, no other component, each pod once.
    for (const pod of deleted) expect(pod).toMatch(/^mimir-ingester-zone-a-[01]$/);
    expect(Object.values(restartsSeen(report)).every((n) => n === 1)).toBe(true);
    expect(report.originalsDeleted).toBe(deleted.length);
    expect(report.maxZonesDisrupted['ingester']).toBe(1);
    expect((await stack.api<RolloutView>(`/v1/rollouts/${created.body.id}`)).body.status).toBe(
      'aborted',
    );
  });
});
