/**
 * Bad input, over REST and on the request topic, against the real planner:
 *  - malformed bodies: 400 naming the field (and no rollout created: a typo like `dryrun` must
 *    never roll anything);
 *  - well-formed but impossible requests (unknown cluster, namespace, component; an unsafe
 *    override without `unsafe`): 422 naming what is wrong;
 *  - an unknown rollout id: 404;
 *  - malformed upgrade-request events: each lands in the prefixed dead-letter topic with a
 *    reason naming the problem, and the consumer keeps going (a valid event after them still
 *    creates a rollout).
 *
 * No executor runs: nothing may roll here, and the observer checks no pod was touched.
 */
import type { Consumer, Producer } from 'kafkajs';
import { AvailabilityObserver } from '../support/availability.observer';
import { Stack, deleteNamespace, runName, waitFor } from '../support/stack';
import {
  collect,
  expectNoViolations,
  listRollouts,
  testKafka,
  type ErrorBody,
  startE2eStack,
  sleep,
} from './e2e.helpers';

jest.setTimeout(300_000);

const PORT = 18206;

describe('bad input over REST and on the request topic (e2e)', () => {
  const name = runName('e2e-bad');
  const ns = name;
  let kubeconfig: string;
  let context: string;
  let stack: Stack;
  let observer: AvailabilityObserver;
  let producer: Producer;
  let dlq: Consumer | undefined;
  let kafkaBrokers: string;
  const target = () => ({ cluster: context, namespace: ns });

  beforeAll(async () => {
    ({
      stack,
      kafkaBrokers,
      kubeconfig,
      contexts: [context],
    } = await startE2eStack({
      name,
      plannerPort: PORT,
      executors: [],
      beforeServices: async (k, [c]) => {
        observer = new AvailabilityObserver(k, c, ns);
        await observer.start();
      },
    }));
    producer = testKafka(kafkaBrokers, `${name}-test`).producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await dlq?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await stack?.stop();
    if (kubeconfig) deleteNamespace(kubeconfig, context, ns);
  });

  async function post(body: unknown): Promise<{ status: number; body: ErrorBody }> {
    return stack.api<ErrorBody>('/v1/rollouts', { body });
  }

  /** The answer's problems (or message), one string, for matching. */
  const said = (r: { body: ErrorBody }) => [r.body.message, ...(r.body.problems ?? [])].join(' | ');

  describe('REST: malformed bodies -> 400 naming the field', () => {
    it('missing targets', async () => {
      const r = await post({ change: { kind: 'restart' } });
      expect(r.status).toBe(400);
      expect(r.body.problems?.some((p) => p.startsWith('targets'))).toBe(true);
    });

    it('wrong kind of change', async () => {
      const r = await post({ targets: [target()], change: { kind: 'reboot' } });
      expect(r.status).toBe(400);
      expect(said(r)).toMatch(/change\.kind/);
      const s = await post({ targets: [target()], change: 'restart' });
      expect(s.status).toBe(400);
      expect(said(s)).toMatch(/\bchange\b/);
    });

    it('unknown field `dryrun` (a typo of dryRun) is refused, not ignored', async () => {
      const r = await post({ targets: [target()], change: { kind: 'restart' }, dryrun: true });
      expect(r.status).toBe(400);
      expect(said(r)).toMatch(/dryrun/);
    });

    it('invalid JSON', async () => {
      const r = await stack.api<ErrorBody>('/v1/rollouts', { body: '{"targets": [' });
      expect(r.status).toBe(400);
      expect(r.body.statusCode).toBe(400);
      expect(said(r)).toMatch(/JSON/i);
    });

    it('none of them created a rollout', async () => {
      expect(await listRollouts(stack)).toEqual([]);
    });
  });

  describe('REST: impossible requests -> 422 naming what is wrong', () => {
    it('unknown cluster', async () => {
      const r = await post({
        targets: [{ cluster: 'no-such-cluster', namespace: ns }],
        change: { kind: 'restart' },
      });
      expect(r.status).toBe(422);
      expect(said(r)).toMatch(/targets\.0\.cluster/);
      expect(said(r)).toMatch(/no-such-cluster/);
    });

    it('unknown namespace', async () => {
      const r = await post({
        targets: [{ cluster: context, namespace: 'no-such-namespace' }],
        change: { kind: 'restart' },
      });
      expect(r.status).toBe(422);
      expect(said(r)).toMatch(/no-such-namespace/);
    });

    it('unknown component', async () => {
      const r = await post({
        targets: [target()],
        change: { kind: 'restart' },
        components: ['ingester', 'flux-capacitor'],
      });
      expect(r.status).toBe(422);
      expect(said(r)).toMatch(/flux-capacitor/);
    });

    it('ingester maxUnavailable 3 without unsafe', async () => {
      const r = await post({
        targets: [target()],
        change: { kind: 'restart' },
        overrides: { ingester: { maxUnavailable: 3 } },
      });
      expect(r.status).toBe(422);
      expect(said(r)).toMatch(/overrides\.ingester\.maxUnavailable/);
      expect(said(r)).toMatch(/unsafe/);
    });

    it('none of them created a rollout', async () => {
      expect(await listRollouts(stack)).toEqual([]);
    });
  });

  it('GET an unknown rollout id -> 404', async () => {
    const r = await stack.api<ErrorBody>('/v1/rollouts/00000000-0000-4000-8000-000000000000');
    expect(r.status).toBe(404);
    const s = await stack.api<ErrorBody>('/v1/rollouts/not-a-uuid');
    expect(s.status).toBe(404);
  });

  it('malformed events land in the dead-letter topic with the reason; the consumer keeps going', async () => {
    const requests = `${name}.rollout.requests`;
    const collected = await collect(
      testKafka(kafkaBrokers, `${name}-test-dlq`),
      `${name}.ringmaster.dead-letter`,
      `${name}-test-dlq`,
    );
    dlq = collected.consumer;
    const valid = (requestId: string) => ({
      v: 1,
      type: 'rollout.request',
      requestId,
      producer: 'e2e',
      targets: [target()],
      change: { kind: 'restart' },
    });
    const { requestId: _omit, ...noRequestId } = valid('x');
    const bad: { key: string; value: string; reason: RegExp }[] = [
      { key: 'bad-json', value: '{"v":1,"type":"rollout.request",', reason: /JSON/i },
      {
        key: 'bad-version',
        value: JSON.stringify({ ...valid('bad-version'), v: 2 }),
        reason: /\bv\b|version/i,
      },
      { key: 'no-request-id', value: JSON.stringify(noRequestId), reason: /requestId/ },
      {
        key: 'unknown-cluster',
        value: JSON.stringify({
          ...valid('unknown-cluster'),
          targets: [{ cluster: 'no-such-cluster', namespace: ns }],
        }),
        reason: /targets\.0\.cluster/,
      },
    ];
    // One partition for all (same key), so they are handled in this order, then the valid one.
    const key = `${name}-bad-input`;
    await producer.send({
      topic: requests,
      messages: bad.map((b) => ({ key, value: b.value, headers: { case: b.key } })),
    });
    await producer.send({
      topic: requests,
      messages: [{ key, value: JSON.stringify(valid(`${name}-good`)) }],
    });

    await waitFor(
      () => collected.messages.length >= bad.length,
      60_000,
      'dead letters',
      () => JSON.stringify(collected.messages),
    );
    const letters = collected.messages.map(
      (m) =>
        JSON.parse(m.value ?? '{}') as {
          type: string;
          sourceTopic: string;
          reason: string;
          payload: string;
          headers?: Record<string, string>;
        },
    );
    console.log(letters.map((l) => `${l.headers?.case ?? '?'}: ${l.reason}`).join('\n'));
    expect(letters).toHaveLength(bad.length);
    for (const b of bad) {
      const l = letters.find((x) => x.payload === b.value);
      expect(l).toBeDefined();
      expect(l!.type).toBe('dead-letter');
      expect(l!.sourceTopic).toBe(requests);
      expect(l!.reason).toMatch(b.reason);
    }

    // The valid event after them still became a rollout.
    let items: { id: string; status: string }[] = [];
    await waitFor(
      async () => (items = await listRollouts(stack)).length > 0,
      60_000,
      'the valid event to create a rollout',
    );
    expect(items).toHaveLength(1);
    // Nothing executes here (no executor): end it, and check nothing was touched.
    const aborted = await stack.api<{ status: string }>(`/v1/rollouts/${items[0].id}/abort`, {
      body: {},
    });
    expect(aborted.body.status).toBe('aborted');
    const report = observer.stop();
    expectNoViolations(report);
    expect(report.deletions).toEqual({});
    expect(report.originalsDeleted).toBe(0);
  });

  it('an oversized body is refused with 413, never parsed', async () => {
    const huge = JSON.stringify({
      targets: [{ cluster: 'x'.repeat(300_000), namespace: ns }],
      change: { kind: 'restart' },
    });
    const r = await stack.api<ErrorBody>('/v1/rollouts', { body: huge });
    expect(r.status).toBe(413);
    expect(r.body.message).toContain('larger than the limit');
  });

  // Last: it spends this client's request budget.
  it('a request flood is refused with 429 and Retry-After; the budget refills', async () => {
    const res = await Promise.all(
      Array.from({ length: 80 }, () =>
        fetch(`${stack.plannerUrl}/v1/rollouts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        }),
      ),
    );
    const limited = res.filter((x) => x.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(res.filter((x) => x.status === 400).length).toBeGreaterThanOrEqual(40);
    expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited[0].json()) as ErrorBody).message).toContain('rate limit');
    await sleep(2_500);
    expect((await post({})).status).toBe(400);
  });
});
