/**
 * A rollout requested by another system: an upgrade-request event on the (prefixed)
 * `rollout.requests` topic, produced twice with the same requestId (a producer retry). The
 * planner creates exactly one rollout, it succeeds, and every StatefulSet pod is replaced once.
 */
import type { Admin, Producer } from 'kafkajs';
import { AvailabilityObserver, restartsSeen } from '../support/availability.observer';
import { Stack, deleteNamespace, runName, waitFor } from '../support/stack';
import {
  SETTLED,
  expectNoViolations,
  listRollouts,
  progressLine,
  requestAuth,
  sleep,
  statefulSetPodNames,
  testKafka,
  type RolloutView,
  startE2eStack,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18202;

describe('rollout requested by an upgrade-request event (e2e)', () => {
  const name = runName('e2e-reqev');
  const ns = name;
  let kubeconfig: string;
  let context: string;
  let stack: Stack;
  let producer: Producer;
  let admin: Admin;

  beforeAll(async () => {
    let kafkaBrokers: string;
    // startE2eStack waits until the planner has observed the target: a request for a target it
    // has not seen yet would be refused for good (dead-lettered).
    ({
      stack,
      kafkaBrokers,
      kubeconfig,
      contexts: [context],
    } = await startE2eStack({
      name,
      plannerPort: PORT,
      tokens: { 'e2e-release-train': [`roll:*/${ns}`] },
    }));
    const kafka = testKafka(kafkaBrokers, `${name}-test`);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await stack?.dispose();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  it('the same request produced twice creates one rollout, which succeeds', async () => {
    const topic = `${name}.rollout.requests`;
    const requestId = `${name}-req-1`;
    const event = {
      v: 1,
      type: 'rollout.request',
      requestId,
      producer: 'e2e-release-train',
      targets: [{ cluster: context, namespace: ns }],
      change: { kind: 'restart' },
    };
    const stsPods = statefulSetPodNames(kubeconfig, context, ns);
    const observer = new AvailabilityObserver(kubeconfig, context, ns);
    await observer.start();
    expect(await listRollouts(stack)).toEqual([]);

    const t0 = Date.now();
    // Two separate sends: a producer that retried after a lost acknowledgement.
    const message = {
      key: requestId,
      value: JSON.stringify(event),
      headers: requestAuth(stack.tokens['e2e-release-train']),
    };
    await producer.send({ topic, messages: [message] });
    await producer.send({ topic, messages: [message] });

    // Both events handled: the planner's group committed past both of them.
    const group = `${name}-planner`;
    let committed = 0;
    await waitFor(
      async () => {
        const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
        committed = offsets[0].partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
        return committed >= 2;
      },
      60_000,
      `group ${group} to commit both requests`,
      () => `committed ${committed}`,
    );

    const items = await listRollouts(stack);
    expect(items).toHaveLength(1);
    const rollout = await stack.waitRollout<RolloutView & { requestedBy?: string }>(
      items[0].id,
      (x) => SETTLED.includes(x.status),
      240_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    await sleep(1500);
    const report = observer.stop();
    console.log(
      `event rollout: ${rollout.status} in ${seconds}s; ${progressLine(rollout)}\nobserver: maxUnavailable ${JSON.stringify(report.maxUnavailable)} maxZonesDisrupted ${JSON.stringify(report.maxZonesDisrupted)} originals ${report.originalsDeleted}/${report.originals}`,
    );

    expect(rollout.status).toBe('succeeded');
    expect(rollout.requestedBy).toBe('e2e-release-train');
    // Still exactly one, after everything was handled.
    expect(await listRollouts(stack)).toHaveLength(1);

    expectNoViolations(report);
    expect(Object.keys(report.deletions).sort()).toEqual(stsPods);
    expect(Object.values(restartsSeen(report)).every((n) => n === 1)).toBe(true);
    expect(report.originalsDeleted).toBe(report.originals);
    expect(report.maxZonesDisrupted['ingester']).toBe(1);
  });
});
