/**
 * Bad input, over REST and on the request topic, against the real planner:
 *  - malformed bodies: 400 naming the field (and no rollout created: a typo like `dryrun` must
 *    never roll anything);
 *  - well-formed but impossible requests (unknown cluster, namespace, component; an unsafe
 *    override without `unsafe`): 422 naming what is wrong;
 *  - an unknown rollout id: 404;
 *  - no token, an unknown one, or one whose scopes do not cover the target: 401 / 403;
 *  - malformed upgrade-request events: each lands in the prefixed dead-letter topic with a
 *    reason naming the problem, and the consumer keeps going (a valid event after them still
 *    creates a rollout); so do events without a token, with another producer's token or out of
 *    their producer's scopes, and the dead letters never hold the token.
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
  requestAuth,
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
      tokens: {
        e2e: [`roll:*/${ns}`],
        reader: ['read:*/*'],
        elsewhere: ['roll:*/other-*'],
      },
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
    await stack?.dispose();
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
      { key: 'no-token', value: JSON.stringify(valid('no-token')), reason: /^unauthenticated/ },
      {
        key: 'impostor',
        value: JSON.stringify({ ...valid('impostor'), producer: 'release-train' }),
        reason: /producer "release-train" sent a token of "e2e"/,
      },
      {
        key: 'out-of-scope',
        value: JSON.stringify({ ...valid('out-of-scope'), producer: 'elsewhere' }),
        reason: /forbidden: "elsewhere" may not roll/,
      },
    ];
    const tokenOf = (b: { key: string }) =>
      b.key === 'out-of-scope' ? stack.tokens.elsewhere : stack.tokens.e2e;
    // One partition for all (same key), so they are handled in this order, then the valid one.
    const key = `${name}-bad-input`;
    await producer.send({
      topic: requests,
      messages: bad.map((b) => ({
        key,
        value: b.value,
        headers: { case: b.key, ...(b.key === 'no-token' ? {} : requestAuth(tokenOf(b))) },
      })),
    });
    await producer.send({
      topic: requests,
      messages: [
        {
          key,
          value: JSON.stringify(valid(`${name}-good`)),
          headers: requestAuth(stack.tokens.e2e),
        },
      ],
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
    // The dead-letter topic shows that a token was sent, never the token.
    expect(letters.find((l) => l.headers?.case === 'impostor')?.headers?.authorization).toBe(
      '<redacted>',
    );
    expect(JSON.stringify(collected.messages)).not.toContain(stack.tokens.e2e);
    expect(JSON.stringify(collected.messages)).not.toContain(stack.tokens.elsewhere);

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

  describe('REST: authentication -> 401, scopes -> 403', () => {
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const restart = () => ({ targets: [target()], change: { kind: 'restart' } });

    it('no token, a malformed header or an unknown token: 401 with WWW-Authenticate', async () => {
      for (const authorization of ['', 'Basic ZTJlOmUyZQ==', 'Bearer rm_not-a-token']) {
        const r = await fetch(`${stack.plannerUrl}/v1/rollouts`, {
          headers: authorization ? { authorization } : {},
        });
        expect(r.status).toBe(401);
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="ringmaster"/);
        expect(((await r.json()) as ErrorBody).message).toMatch(/Bearer|token/);
      }
      const p = await stack.api<ErrorBody>('/v1/rollouts', {
        body: restart(),
        headers: as('rm_not-a-token'),
      });
      expect(p.status).toBe(401);
    });

    it('probes and the OpenAPI document need no token', async () => {
      for (const path of ['/healthz', '/readyz', '/openapi.json'])
        expect((await fetch(`${stack.plannerUrl}${path}`)).status).toBe(200);
    });

    it('a read-only token may plan but not roll (403 naming the target)', async () => {
      const plan = await stack.api('/v1/rollouts', {
        body: { ...restart(), dryRun: true },
        headers: as(stack.tokens.reader),
      });
      expect(plan.status).toBe(200);
      const roll = await stack.api<ErrorBody>('/v1/rollouts', {
        body: restart(),
        headers: as(stack.tokens.reader),
      });
      expect(roll.status).toBe(403);
      expect(roll.body.message).toBe(
        `"reader" may not roll ${context}/${ns} (its scopes: read:*/*)`,
      );
    });

    it('a token scoped to other namespaces neither sees nor controls this rollout', async () => {
      const [mine] = await listRollouts(stack);
      const other = as(stack.tokens.elsewhere);
      expect((await stack.api(`/v1/rollouts/${mine.id}`, { headers: other })).status).toBe(403);
      expect((await stack.api(`/v1/rollouts/${mine.id}/events`, { headers: other })).status).toBe(
        403,
      );
      const list = await stack.api<{ items: unknown[] }>('/v1/rollouts', { headers: other });
      expect(list.status).toBe(200);
      expect(list.body.items).toEqual([]);
      const pause = await stack.api<ErrorBody>(`/v1/rollouts/${mine.id}/pause`, {
        body: {},
        headers: other,
      });
      expect(pause.status).toBe(403);
      // The reader sees it, and may not act on it.
      const reader = as(stack.tokens.reader);
      expect((await stack.api(`/v1/rollouts/${mine.id}`, { headers: reader })).status).toBe(200);
      expect(
        (await stack.api(`/v1/rollouts/${mine.id}/resume`, { body: {}, headers: reader })).status,
      ).toBe(403);
      // Its audit trail says who asked: the producer the token proved.
      const events = await stack.api<{ items: { type: string; message: string }[] }>(
        `/v1/rollouts/${mine.id}/events`,
      );
      expect(events.body.items.find((e) => e.type === 'created')?.message).toBe('requested by e2e');
    });
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
          headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.token}` },
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
