/**
 * Executor failover: two kwok clusters, the fixture in each, two executors in one consumer
 * group (commands are keyed by cluster, so each cluster's commands go to one executor). One
 * rollout per cluster; once the first restart of the killed executor's cluster is seen, that
 * executor is SIGKILLed mid-rollout. The other executor takes its partitions over (after the
 * group's session timeout) and both rollouts finish: succeeded, no pod replaced twice, no
 * availability violation.
 *
 * Which executor owns which cluster is read from the group's assignment (client ids set per
 * executor) and the producer's partitioner (murmur2 of the cluster key), so the test always
 * kills an executor that is acting on a cluster, and checks from the results topic that the
 * survivor acted on that cluster after the kill.
 */
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  AvailabilityObserver,
  type ObserverReport,
  restartsSeen,
} from '../support/availability.observer';
import { Stack, deleteNamespace, runName, waitFor } from '../support/stack';
import {
  SETTLED,
  collect,
  expectNoViolations,
  groupAssignment,
  partitionOf,
  postWhenObserved,
  progressLine,
  sleep,
  statefulSetPodNames,
  testKafka,
  type RolloutView,
  startE2eStack,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18203;
const EXECUTORS = ['executor-1', 'executor-2'];

describe('executor failover mid-rollout (e2e)', () => {
  const name = runName('e2e-failover');
  const ns = name;
  let kubeconfig: string;
  let contexts: string[];
  let stack: Stack;
  let kafka: Kafka;
  let admin: Admin;
  let results: Consumer | undefined;

  beforeAll(async () => {
    let kafkaBrokers: string;
    ({ stack, kafkaBrokers, kubeconfig, contexts } = await startE2eStack({
      name,
      plannerPort: PORT,
      clusters: 2,
      executors: EXECUTORS,
    }));
    kafka = testKafka(kafkaBrokers, `${name}-test`);
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await results?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await stack?.dispose();
    for (const c of contexts ?? []) deleteNamespace(kubeconfig, c, ns);
  });

  it('SIGKILL of an executor mid-rollout: the other takes over, both rollouts succeed', async () => {
    const commands = `${name}.rollout.commands`;
    const held = await groupAssignment(admin, `${name}-executor`, commands, EXECUTORS.length);
    const ownerOf = new Map<string, string>();
    for (const c of contexts) {
      const p = await partitionOf(admin, commands, c);
      ownerOf.set(c, [...held].find(([, ps]) => ps.includes(p))![0]);
    }
    // Kill executor-1 if it acts on a cluster; otherwise the one acting on the first cluster.
    const victim = [...ownerOf.values()].includes('executor-1')
      ? 'executor-1'
      : ownerOf.get(contexts[0])!;
    const survivor = EXECUTORS.find((e) => e !== victim)!;
    const victimClusters = contexts.filter((c) => ownerOf.get(c) === victim);
    console.log(
      `assignment ${JSON.stringify([...held])}; owners ${JSON.stringify([...ownerOf])}; killing ${victim} (clusters ${victimClusters.join(', ')})`,
    );

    const collected = await collect(
      kafka,
      `${name}.rollout.command-results`,
      `${name}-test-results`,
    );
    results = collected.consumer;

    const stsPods = new Map(contexts.map((c) => [c, statefulSetPodNames(kubeconfig, c, ns)]));
    const observers = new Map(
      contexts.map((c) => [c, new AvailabilityObserver(kubeconfig, c, ns)] as const),
    );
    for (const o of observers.values()) await o.start();

    const t0 = Date.now();
    const ids = new Map<string, string>();
    for (const c of contexts) {
      const r = await postWhenObserved<RolloutView>(stack, {
        targets: [{ cluster: c, namespace: ns }],
        change: { kind: 'restart' },
      });
      expect(r.status).toBe(201);
      ids.set(c, r.body.id);
    }

    // Mid-rollout: the victim's cluster has begun restarting.
    await waitFor(
      () => Object.keys(observers.get(victimClusters[0])!.snapshot().deletions).length > 0,
      60_000,
      `first restart in ${victimClusters[0]}`,
    );
    const doneBefore = Object.keys(observers.get(victimClusters[0])!.snapshot().deletions).length;
    const killedAt = Date.now();
    await stack.kill(victim, 'SIGKILL');
    console.log(
      `SIGKILL ${victim} at +${(killedAt - t0) / 1000}s after ${doneBefore} StatefulSet pod(s) deleted`,
    );

    const finals = new Map<string, RolloutView>();
    for (const c of contexts) {
      finals.set(
        c,
        await stack.waitRollout<RolloutView>(
          ids.get(c)!,
          (x) => SETTLED.includes(x.status),
          240_000,
        ),
      );
    }
    const seconds = (Date.now() - t0) / 1000;
    await sleep(1500);
    const reports = new Map<string, ObserverReport>();
    for (const [c, o] of observers) reports.set(c, o.stop());
    for (const c of contexts) {
      const r = reports.get(c)!;
      console.log(
        `${c}: ${finals.get(c)!.status} (${seconds}s for both); ${progressLine(finals.get(c)!)}\nobserver: maxUnavailable ${JSON.stringify(r.maxUnavailable)} maxZonesDisrupted ${JSON.stringify(r.maxZonesDisrupted)} deletions ${JSON.stringify(r.deletions)} originals ${r.originalsDeleted}/${r.originals}`,
      );
    }

    for (const c of contexts) {
      expect(finals.get(c)!.status).toBe('succeeded');
      const r = reports.get(c)!;
      expectNoViolations(r);
      expect(Object.keys(r.deletions).sort()).toEqual(stsPods.get(c));
      expect(Object.values(restartsSeen(r)).every((n) => n === 1)).toBe(true);
      expect(r.originalsDeleted).toBe(r.originals);
      expect(r.maxZonesDisrupted['ingester']).toBe(1);
    }

    // The survivor acted on the victim's cluster after the kill (the take-over really happened).
    await sleep(1000);
    const parsed = collected.messages
      .map(
        (m) =>
          JSON.parse(m.value ?? '{}') as {
            executor?: string;
            at?: number;
            target?: { cluster: string };
            outcome?: string;
          },
      )
      .filter((m) => m.executor);
    const byExecutor = (e: string) =>
      parsed.filter((m) => m.executor === e && victimClusters.includes(m.target?.cluster ?? ''));
    console.log(
      `results: ${victim} ${byExecutor(victim).length} for its clusters, ${survivor} ${byExecutor(survivor).length} (outcomes ${JSON.stringify(byExecutor(survivor).map((m) => m.outcome))})`,
    );
    expect(byExecutor(survivor).filter((m) => (m.at ?? 0) >= killedAt).length).toBeGreaterThan(0);
  });
});
