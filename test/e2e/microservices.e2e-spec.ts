/**
 * A microservices Mimir rolled over REST, end to end: planner, executor and health watcher as
 * processes, a kwok cluster, and an independent observer watching availability.
 *
 *  - dry run: 200 with the plan (ETA, per-component limits), no rollout created, no pod touched;
 *  - restart: succeeds; every StatefulSet pod replaced exactly once, every original pod gone,
 *    no limit exceeded at any observed instant, ingesters one zone at a time;
 *  - image change: the same, and the StatefulSet pods now run the new image.
 */
import { AvailabilityObserver, restartsSeen } from '../support/availability.observer';
import { Stack, deleteNamespace, runName } from '../support/stack';
import {
  SETTLED,
  expectNoViolations,
  listRollouts,
  pods,
  postWhenObserved,
  progressLine,
  sleep,
  statefulSetPodNames,
  type PlanView,
  type RolloutView,
  startE2eStack,
} from './e2e.helpers';
import { execFileSync } from 'node:child_process';

jest.setTimeout(300_000);

const PORT = 18201;

describe('microservices rollout over REST (e2e)', () => {
  const name = runName('e2e-micro');
  const ns = name;
  let kubeconfig: string;
  let context: string;
  let stack: Stack;
  const target = () => ({ cluster: context, namespace: ns });

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

  it('dry run: answers the plan and creates nothing', async () => {
    const observer = new AvailabilityObserver(kubeconfig, context, ns);
    await observer.start();
    const before = await listRollouts(stack);

    const r = await stack.api<{ dryRun: boolean; plan: PlanView }>('/v1/rollouts', {
      body: { targets: [target()], change: { kind: 'restart' }, dryRun: true },
    });

    expect(r.status).toBe(200);
    expect(r.body.dryRun).toBe(true);
    expect(r.body.plan.etaSeconds).toBeGreaterThan(0);
    const comps = new Map(r.body.plan.targets[0].components.map((c) => [c.component, c.policy]));
    expect([...comps.keys()].sort()).toEqual([
      'alertmanager',
      'compactor',
      'distributor',
      'gateway',
      'ingester',
      'querier',
      'query-frontend',
      'query-scheduler',
      'ruler',
      'store-gateway',
    ]);
    // Zone-aware: one whole zone (2 ingesters, 1 store-gateway) at a time.
    expect(comps.get('ingester')).toMatchObject({ zoneAware: true, zonesAtOnce: 1, limit: 2 });
    expect(comps.get('store-gateway')).toMatchObject({ zoneAware: true, zonesAtOnce: 1, limit: 1 });
    // Alertmanager: RF 3, a single copy serves -> 2; compactor one at a time; stateless 25% of 2 -> 1.
    expect(comps.get('alertmanager')).toMatchObject({ zoneAware: false, limit: 2 });
    expect(comps.get('compactor')).toMatchObject({ limit: 1 });
    expect(comps.get('distributor')).toMatchObject({ zoneAware: false, limit: 1 });

    await sleep(3000);
    expect(await listRollouts(stack)).toEqual(before);
    const report = observer.stop();
    expect(report.deletions).toEqual({});
    expect(report.originalsDeleted).toBe(0);
    expectNoViolations(report);
  });

  async function rollAndObserve(change: unknown): Promise<{
    rollout: RolloutView;
    stsPods: string[];
    report: ReturnType<AvailabilityObserver['stop']>;
    seconds: number;
  }> {
    const stsPods = statefulSetPodNames(kubeconfig, context, ns);
    const observer = new AvailabilityObserver(kubeconfig, context, ns);
    await observer.start();
    const t0 = Date.now();
    const created = await postWhenObserved<RolloutView>(stack, { targets: [target()], change });
    expect(created.status).toBe(201);
    const rollout = await stack.waitRollout<RolloutView>(
      created.body.id,
      (x) => SETTLED.includes(x.status),
      240_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    // Let the observer see the last deletions' tombstones and readiness.
    await sleep(1500);
    const report = observer.stop();
    console.log(
      `${JSON.stringify(change)}: ${rollout.status} in ${seconds}s; ${progressLine(rollout)}\nobserver: maxUnavailable ${JSON.stringify(report.maxUnavailable)} maxZonesDisrupted ${JSON.stringify(report.maxZonesDisrupted)} originals ${report.originalsDeleted}/${report.originals}${Object.keys(report.forced).length ? ` forced deletions (kwok) ${JSON.stringify(report.forced)}` : ''}`,
    );
    return { rollout, stsPods, report, seconds };
  }

  function expectEachReplacedOnce(
    stsPods: string[],
    report: ReturnType<AvailabilityObserver['stop']>,
    untouched = 0,
  ): void {
    expectNoViolations(report);
    expect(stsPods).toHaveLength(14); // 6 ingesters, 3 store-gateways, 3 alertmanagers, 2 compactors
    expect(Object.keys(report.deletions).sort()).toEqual(stsPods);
    expect(Object.values(restartsSeen(report)).every((n) => n === 1)).toBe(true);
    // Deployments: every original pod was replaced (the StatefulSet ones are covered above too),
    // except `untouched` ones that the change does not concern.
    expect(report.originalsDeleted).toBe(report.originals - untouched);
    expect(report.maxZonesDisrupted['ingester']).toBe(1);
    expect(report.maxZonesDisrupted['store-gateway']).toBe(1);
    expect(report.maxUnavailable['ingester']).toBeLessThanOrEqual(2);
    expect(report.maxUnavailable['alertmanager']).toBeLessThanOrEqual(2);
    expect(report.maxUnavailable['compactor']).toBeLessThanOrEqual(1);
    for (const c of [
      'distributor',
      'querier',
      'query-frontend',
      'query-scheduler',
      'ruler',
      'gateway',
    ])
      expect(report.maxUnavailable[c] ?? 0).toBeLessThanOrEqual(1);
    // Afterwards everything is back.
    expect(pods(kubeconfig, context, ns).every((p) => p.ready)).toBe(true);
  }

  it('restart: succeeds, every StatefulSet pod replaced exactly once, no violation', async () => {
    const { rollout, stsPods, report } = await rollAndObserve({ kind: 'restart' });
    expect(rollout.status).toBe('succeeded');
    expect(rollout.targetProgress[0].components.every((c) => c.status === 'succeeded')).toBe(true);
    expectEachReplacedOnce(stsPods, report);
  });

  it('image change: succeeds, every StatefulSet pod replaced exactly once and runs the new image', async () => {
    const image = 'grafana/mimir:2.15.0';
    const { rollout, stsPods, report } = await rollAndObserve({ kind: 'image', image });
    expect(rollout.status).toBe('succeeded');
    // The 2 gateway pods run nginx, not Mimir: the image change does not restart them.
    expectEachReplacedOnce(stsPods, report, 2);
    const images = execFileSync(
      'kubectl',
      [
        '--kubeconfig',
        kubeconfig,
        '--context',
        context,
        '-n',
        ns,
        'get',
        'pods',
        '-l',
        'app.kubernetes.io/component in (ingester,store-gateway,alertmanager,compactor,distributor,querier)',
        '-o',
        'jsonpath={range .items[*]}{.spec.containers[0].image}{"\\n"}{end}',
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean);
    expect(images.length).toBeGreaterThanOrEqual(18);
    expect(new Set(images)).toEqual(new Set([image]));
    // The gateway runs nginx, not Mimir: an image change without `container` leaves it alone.
    const gateway = execFileSync(
      'kubectl',
      [
        '--kubeconfig',
        kubeconfig,
        '--context',
        context,
        '-n',
        ns,
        'get',
        'deployment',
        'mimir-gateway',
        '-o',
        'jsonpath={.spec.template.spec.containers[*].name}={.spec.template.spec.containers[*].image}',
      ],
      { encoding: 'utf8' },
    );
    expect(gateway).not.toContain(image);
  });
});
