/**
 * The handler's decisions, with fakes of its two ports: a scripted command runner (what
 * Kubernetes would answer) and a result sink (what would go to `rollout.command-results`).
 * "Commit" = the handler resolves; "retry" = RetriableError; "dead letter" = PermanentError
 * (the ConsumerRunner's contract, tested in libs/messaging).
 */
import type { CommandResultMessage } from '@ringmaster/contracts';
import { ContractViolationError } from '@ringmaster/contracts';
import type { EvictionRefusal, KubeCommandResult } from '@ringmaster/kube';
import { KubeRetriableError } from '@ringmaster/kube';
import { PermanentError, RetriableError, type InboundMessage } from '@ringmaster/messaging';
import type { Command } from '@ringmaster/rollout-core';
import {
  CommandMessageHandler,
  type CommandHandlerOptions,
  type CommandRunnerPort,
  type ResultSink,
} from './command.message.handler';

/** One scripted answer: a result, a refusal (429), or a thrown error. */
type Step = KubeCommandResult | { refuse: string } | { throw: unknown };

class FakeRunner implements CommandRunnerPort {
  readonly calls: Command[] = [];
  constructor(private readonly steps: Step[] = []) {}
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }
  async run(
    cmd: Command,
    restart: { refusalDeadlineMs: number; onRefused: (r: EvictionRefusal) => void },
  ): Promise<KubeCommandResult> {
    this.calls.push(cmd);
    // The handler never lets the restarter wait itself (see the handler's file comment).
    expect(restart.refusalDeadlineMs).toBe(0);
    const step = this.steps.shift();
    if (!step) throw new Error(`unexpected call for ${cmd.id}`);
    if ('throw' in step) throw step.throw;
    if ('refuse' in step) {
      const pod = cmd.kind === 'restart-pod' ? cmd.pod : '?';
      restart.onRefused({
        namespace: cmd.target.namespace,
        pod,
        uid: 'u1',
        attempt: 1,
        message: step.refuse,
      });
      return { outcome: 'refused', detail: `eviction refused 1 time(s): ${step.refuse}` };
    }
    return step;
  }
}

class FakeSink implements ResultSink {
  readonly results: CommandResultMessage[] = [];
  failNext: unknown[] = [];
  async publish(result: CommandResultMessage): Promise<void> {
    const f = this.failNext.shift();
    if (f) throw f;
    this.results.push(result);
  }
}

const restartPod = {
  v: 1,
  type: 'rollout.command',
  issuedAt: 1_000,
  kind: 'restart-pod',
  id: 'r1:4',
  rolloutId: 'r1',
  target: { cluster: 'eu-1', namespace: 'mimir' },
  pod: 'mimir-ingester-zone-a-0',
  uid: 'u1',
  method: 'evict',
};
const applyTemplate = {
  v: 1,
  type: 'rollout.command',
  issuedAt: 1_000,
  kind: 'apply-template',
  id: 'r1:1',
  rolloutId: 'r1',
  target: { cluster: 'eu-1', namespace: 'mimir' },
  workload: 'mimir-ingester-zone-a',
  change: { kind: 'image', image: 'grafana/mimir:2.15.0' },
  takeOver: false,
};

let offset = 0;
function inbound(value: unknown, key: string | null = 'eu-1'): InboundMessage {
  return {
    topic: 'rollout.commands',
    partition: 0,
    offset: String(offset++),
    key,
    value:
      value === null
        ? null
        : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
    timestamp: '0',
  };
}

function setup(opts: Partial<CommandHandlerOptions> = {}, steps: Step[] = []) {
  const runner = new FakeRunner(steps);
  const sink = new FakeSink();
  const clock = { now: 10_000 };
  const warnings: string[] = [];
  const handler = new CommandMessageHandler({
    executorId: 'exec-1',
    clusters: ['eu-1', 'us-1'],
    runner,
    sink,
    refusalDeadlineMs: 60_000,
    retryBudgetMs: 300_000,
    completedCacheSize: 100,
    clock: () => clock.now,
    logger: { log: () => undefined, warn: (m) => warnings.push(m), error: () => undefined },
    ...opts,
  });
  return { handler, runner, sink, clock, warnings, handle: handler.handle };
}

describe('CommandMessageHandler', () => {
  describe('outcomes of the runner become results, published before the commit', () => {
    it.each([
      ['done', { outcome: 'done', detail: 'evicted (uid u1)' }],
      [
        'already-done',
        { outcome: 'already-done', detail: 'was replaced (uid u2, command for u1)' },
      ],
      ['failed', { outcome: 'failed', detail: 'evict pod: 403 Forbidden: pods is forbidden' }],
    ] as const)('%s -> that result, then commit', async (_name, step) => {
      const { handle, sink, runner } = setup({}, [step]);
      await expect(handle(inbound(restartPod))).resolves.toBeUndefined();
      expect(runner.calls).toHaveLength(1);
      expect(sink.results).toEqual([
        {
          v: 1,
          type: 'rollout.command-result',
          commandId: 'r1:4',
          rolloutId: 'r1',
          target: { cluster: 'eu-1', namespace: 'mimir' },
          outcome: step.outcome,
          detail: step.detail,
          executor: 'exec-1',
          at: 10_000,
        },
      ]);
    });

    it('a template change reports the generation', async () => {
      const { handle, sink, runner } = setup({}, [{ outcome: 'done', generation: 7 }]);
      await handle(inbound(applyTemplate));
      expect(runner.calls[0]).toEqual({
        kind: 'apply-template',
        id: 'r1:1',
        rolloutId: 'r1',
        target: { cluster: 'eu-1', namespace: 'mimir' },
        workload: 'mimir-ingester-zone-a',
        change: { kind: 'image', image: 'grafana/mimir:2.15.0' },
        takeOver: false,
      });
      expect(sink.results[0]).toMatchObject({ outcome: 'done', generation: 7 });
    });

    it('a detail longer than the contract allows is cut, not refused', async () => {
      const { handle, sink } = setup({}, [{ outcome: 'failed', detail: 'x'.repeat(5000) }]);
      await handle(inbound(restartPod));
      expect(sink.results[0].detail).toHaveLength(4096);
    });
  });

  describe('invalid messages', () => {
    it.each([
      ['not JSON', '{"v":1,', /invalid JSON/],
      ['a null value', null, /empty payload/],
      ['an unknown version', { ...restartPod, v: 2 }, /unsupported message version 2/],
      ['a missing field', { ...restartPod, uid: undefined }, /^uid: Required/],
      ['an unknown field', { ...restartPod, force: true }, /Unrecognized key.*force/],
    ])(
      '%s -> PermanentError with the reason (dead letter), no result, no call',
      async (_n, v, reason) => {
        const { handle, sink, runner } = setup();
        const err = await handle(inbound(v)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(PermanentError);
        expect((err as Error).message).toMatch(reason);
        expect(sink.results).toEqual([]);
        expect(runner.calls).toEqual([]);
      },
    );
  });

  it('unknown cluster -> failed result naming the clusters, then PermanentError', async () => {
    const { handle, sink, runner } = setup();
    const cmd = { ...restartPod, target: { cluster: 'ap-9', namespace: 'mimir' } };
    const err = await handle(inbound(cmd, 'ap-9')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe(
      'unknown cluster "ap-9": this executor reaches eu-1, us-1 (RINGMASTER_CONTEXTS)',
    );
    expect(sink.results).toEqual([
      expect.objectContaining({ outcome: 'failed', detail: (err as Error).message }),
    ]);
    expect(runner.calls).toEqual([]);
  });

  it('a key other than the cluster is acted on, with a warning', async () => {
    const { handle, sink, warnings } = setup({}, [{ outcome: 'done' }]);
    await handle(inbound(restartPod, 'wrong'));
    expect(sink.results[0].outcome).toBe('done');
    expect(warnings[0]).toMatch(/key "wrong" is not its cluster "eu-1"/);
  });

  describe('PDB refusals', () => {
    it('each refusal is published and retried (no commit); the final outcome follows', async () => {
      const msg =
        "Cannot evict pod as it would violate the pod's disruption budget. (The disruption budget pdb needs 2 healthy pods and has 2 currently)";
      const { handle, sink, runner, clock } = setup({}, [
        { refuse: msg },
        { refuse: msg },
        { outcome: 'done', detail: 'evicted (uid u1)' },
      ]);
      const m = inbound(restartPod);
      await expect(handle(m)).rejects.toThrow(RetriableError);
      clock.now += 1_000;
      await expect(handle(m)).rejects.toThrow(
        /restart-pod eu-1\/mimir\/mimir-ingester-zone-a-0: eviction refused by a PodDisruptionBudget \(2 time\(s\)\); retrying/,
      );
      clock.now += 2_000;
      await expect(handle(m)).resolves.toBeUndefined();
      expect(runner.calls).toHaveLength(3);
      expect(sink.results.map((r) => [r.outcome, r.detail])).toEqual([
        ['refused', `eviction refused (1 time(s)); retrying for up to 60 s more: ${msg}`],
        ['refused', `eviction refused (2 time(s)); retrying for up to 59 s more: ${msg}`],
        ['done', 'evicted (uid u1)'],
      ]);
    });

    it('past the refusal deadline -> final refused, committed', async () => {
      const { handle, sink, clock } = setup({ refusalDeadlineMs: 5_000 }, [
        { refuse: 'budget' },
        { refuse: 'budget' },
      ]);
      const m = inbound(restartPod);
      await expect(handle(m)).rejects.toThrow(RetriableError);
      clock.now += 5_000;
      await expect(handle(m)).resolves.toBeUndefined();
      expect(sink.results.map((r) => r.outcome)).toEqual(['refused', 'refused']);
      expect(sink.results[1].detail).toBe('eviction refused 2 time(s) over 5 s; giving up: budget');
    });

    it('refusalDeadlineMs 0: the first refusal is final', async () => {
      const { handle, sink } = setup({ refusalDeadlineMs: 0 }, [{ refuse: 'budget' }]);
      await expect(handle(inbound(restartPod))).resolves.toBeUndefined();
      expect(sink.results.map((r) => r.outcome)).toEqual(['refused']);
    });
  });

  describe('retriable Kubernetes errors', () => {
    it('are retried (RetriableError, nothing published) and never reported while in budget', async () => {
      const e503 = new KubeRetriableError('read pod: 503: etcdserver: leader changed', 503);
      const { handle, sink, clock } = setup({}, [
        { throw: e503 },
        { throw: new KubeRetriableError('evict pod: no answer within 30000 ms') },
        { outcome: 'done' },
      ]);
      const m = inbound(restartPod);
      const err = await handle(m).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetriableError);
      expect((err as Error).message).toMatch(/leader changed/);
      clock.now += 200_000;
      await expect(handle(m)).rejects.toThrow(/no answer within/);
      expect(sink.results).toEqual([]);
      await handle(m);
      expect(sink.results.map((r) => r.outcome)).toEqual(['done']);
    });

    it('past the retry budget -> failed with the last error, committed', async () => {
      const { handle, sink, clock } = setup({ retryBudgetMs: 60_000 }, [
        { throw: new KubeRetriableError('503 one', 503) },
        { throw: new KubeRetriableError('503 two', 503) },
      ]);
      const m = inbound(restartPod);
      await expect(handle(m)).rejects.toThrow(RetriableError);
      clock.now += 60_000;
      await expect(handle(m)).resolves.toBeUndefined();
      expect(sink.results).toEqual([
        expect.objectContaining({
          outcome: 'failed',
          detail:
            'gave up after 2 attempt(s) over 60 s of retriable errors; last: KubeRetriableError: 503 two',
        }),
      ]);
    });

    describe('a cluster that cannot be connected to', () => {
      const refused = () =>
        new KubeRetriableError(
          'read pod: ECONNREFUSED',
          undefined,
          Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), {
            code: 'ECONNREFUSED',
          }),
        );

      it('only connect failures, past unreachableAfterMs -> unreachable (nothing done), committed', async () => {
        const { handle, sink, clock, runner } = setup({ unreachableAfterMs: 2_000 }, [
          { throw: refused() },
          { throw: refused() },
          { throw: refused() },
        ]);
        const m = inbound(restartPod);
        await expect(handle(m)).rejects.toThrow(RetriableError); // held in place a moment
        clock.now += 1_000;
        await expect(handle(m)).rejects.toThrow(RetriableError);
        clock.now += 1_000;
        await expect(handle(m)).resolves.toBeUndefined(); // the partition moves on
        expect(runner.calls).toHaveLength(3);
        expect(sink.results).toEqual([
          expect.objectContaining({
            outcome: 'unreachable',
            detail: expect.stringMatching(
              /^no connection to cluster eu-1 for 2 s \(3 failed attempt\(s\)\); nothing was done: KubeRetriableError: read pod: ECONNREFUSED/,
            ),
          }),
        ]);
        // A redelivery gets the same answer without another call.
        await handle(m);
        expect(runner.calls).toHaveLength(3);
        expect(sink.results.map((r) => r.outcome)).toEqual(['unreachable', 'unreachable']);
      });

      it('a reset first (it may have acted), then only refusals: unreachable, saying so', async () => {
        const reset = new KubeRetriableError(
          'evict pod: socket hang up',
          undefined,
          Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        );
        const { handle, sink, clock } = setup({ unreachableAfterMs: 2_000 }, [
          { throw: reset },
          { throw: refused() },
          { throw: refused() },
        ]);
        const m = inbound(restartPod);
        await expect(handle(m)).rejects.toThrow(RetriableError);
        clock.now += 5_000;
        await expect(handle(m)).rejects.toThrow(RetriableError); // refusals start counting here
        clock.now += 2_000;
        await expect(handle(m)).resolves.toBeUndefined();
        expect(sink.results).toEqual([
          expect.objectContaining({
            outcome: 'unreachable',
            detail: expect.stringMatching(
              /^no connection to cluster eu-1 for 2 s \(3 failed attempt\(s\)\); an earlier attempt was cut off mid-request and may have acted: /,
            ),
          }),
        ]);
      });

      it('a cluster that answers between refusals (5xx) is not unreachable: retried in place', async () => {
        const { handle, sink, clock } = setup({ unreachableAfterMs: 2_000 }, [
          { throw: refused() },
          { throw: new KubeRetriableError('503', 503) },
          { throw: refused() },
        ]);
        const m = inbound(restartPod);
        for (let i = 0; i < 3; i++) {
          await expect(handle(m)).rejects.toThrow(RetriableError);
          clock.now += 1_500;
        }
        expect(sink.results).toEqual([]);
      });

      it('unreachableAfterMs 0: the first connect failure is reported', async () => {
        const { handle, sink } = setup({ unreachableAfterMs: 0 }, [{ throw: refused() }]);
        await handle(inbound(applyTemplate));
        expect(sink.results.map((r) => r.outcome)).toEqual(['unreachable']);
      });
    });

    it('retryBudgetMs 0 retries forever', async () => {
      const { handle, sink, clock } = setup({ retryBudgetMs: 0 }, [
        { throw: new KubeRetriableError('down') },
      ]);
      clock.now += 1e9;
      await expect(handle(inbound(restartPod))).rejects.toThrow(RetriableError);
      expect(sink.results).toEqual([]);
    });
  });

  it('an unexpected runner error -> failed result and PermanentError (dead letter)', async () => {
    const { handle, sink } = setup({}, [{ throw: new TypeError('x is undefined') }]);
    const err = await handle(inbound(restartPod)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect(sink.results[0]).toMatchObject({
      outcome: 'failed',
      detail:
        'executor error on restart-pod eu-1/mimir/mimir-ingester-zone-a-0: TypeError: x is undefined',
    });
  });

  describe('redelivery of a completed command', () => {
    it('re-publishes the same result without calling Kubernetes', async () => {
      const { handler, handle, sink, runner, clock } = setup({}, [
        { outcome: 'done', detail: 'evicted' },
      ]);
      await handle(inbound(restartPod));
      clock.now += 5_000;
      await handle(inbound(restartPod)); // e.g. after a rebalance
      expect(runner.calls).toHaveLength(1);
      expect(sink.results).toHaveLength(2);
      expect(sink.results[1]).toEqual(sink.results[0]);
      expect(handler.stats()).toMatchObject({ runs: 1, redelivered: 1, published: { done: 2 } });
    });

    it('a dead-lettered command is dead-lettered again (the first dead letter may not have been written)', async () => {
      const { handle, sink } = setup();
      const cmd = { ...restartPod, target: { cluster: 'ap-9', namespace: 'mimir' } };
      await expect(handle(inbound(cmd, 'ap-9'))).rejects.toThrow(PermanentError);
      await expect(handle(inbound(cmd, 'ap-9'))).rejects.toThrow(PermanentError);
      expect(sink.results).toHaveLength(2);
    });

    it('the memory is bounded: the oldest completed ids are forgotten', async () => {
      const { handle, runner } = setup({ completedCacheSize: 2 }, [
        { outcome: 'done' },
        { outcome: 'done' },
        { outcome: 'done' },
        { outcome: 'already-done' },
      ]);
      for (const id of ['r1:1', 'r1:2', 'r1:3']) await handle(inbound({ ...restartPod, id }));
      await handle(inbound({ ...restartPod, id: 'r1:3' })); // remembered
      await handle(inbound({ ...restartPod, id: 'r1:1' })); // forgotten: asks Kubernetes (uid -> already-done)
      expect(runner.calls.map((c) => c.id)).toEqual(['r1:1', 'r1:2', 'r1:3', 'r1:1']);
    });
  });

  describe('publishing the result fails', () => {
    it('-> RetriableError (no commit); the retry re-publishes the kept result, no second action', async () => {
      const { handle, sink, runner } = setup({}, [{ outcome: 'done', generation: 3 }]);
      sink.failNext = [
        Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' }),
      ];
      const m = inbound(applyTemplate);
      await expect(handle(m)).rejects.toThrow(
        /could not publish the result of r1:1: KafkaJSConnectionError: Connection error/,
      );
      await handle(m);
      expect(runner.calls).toHaveLength(1);
      expect(sink.results).toEqual([expect.objectContaining({ outcome: 'done', generation: 3 })]);
    });

    it('a result that violates its contract is a bug: PermanentError', async () => {
      const { handle, sink } = setup({}, [{ outcome: 'done' }]);
      sink.failNext = [new ContractViolationError('executor: must not be empty')];
      await expect(handle(inbound(restartPod))).rejects.toThrow(PermanentError);
    });
  });

  it('commands of different clusters do not wait for each other', async () => {
    // The runner for eu-1 hangs (a slow API server); us-1 completes meanwhile. Concurrency
    // itself comes from the ConsumerRunner (partitionsConsumedConcurrently); the handler must
    // simply hold no lock across commands.
    let release!: (r: KubeCommandResult) => void;
    const runner: CommandRunnerPort = {
      run: (cmd) =>
        cmd.target.cluster === 'eu-1'
          ? new Promise((r) => (release = r))
          : Promise.resolve({ outcome: 'done' }),
    };
    const { handle, sink } = setup({ runner });
    const slow = handle(inbound(restartPod));
    await handle(
      inbound(
        { ...restartPod, id: 'r2:1', target: { cluster: 'us-1', namespace: 'mimir' } },
        'us-1',
      ),
    );
    expect(sink.results.map((r) => r.commandId)).toEqual(['r2:1']);
    release({ outcome: 'done' });
    await slow;
    expect(sink.results.map((r) => r.commandId)).toEqual(['r2:1', 'r1:4']);
  });
});
