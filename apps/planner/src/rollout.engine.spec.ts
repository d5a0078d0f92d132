import type { Command, RolloutEvent, WorkloadObs } from '@ringmaster/rollout-core';
import { createRollout } from '@ringmaster/rollout-core';
import { topicNames } from '@ringmaster/contracts';
import type { RolloutRepository, SaveDecisionInput } from '@ringmaster/persistence';
import { ObservedStateStore } from './observed-state.store';
import type { OutboxRelay } from './outbox.relay';
import type { PlannerConfig } from './planner.config';
import { RolloutEngine, commandsAudit, isLevelTriggered } from './rollout.engine';

describe('commandsAudit: every released command named in the audit trail', () => {
  const target = { cluster: 'kwok-1', namespace: 'mimir' };
  it('one entry per decision, with each command id, kind and object', () => {
    const commands: Command[] = [
      {
        kind: 'apply-template',
        id: 'r1:1',
        rolloutId: 'r1',
        target,
        workload: 'ingester-zone-a',
        change: { kind: 'restart' },
        takeOver: false,
      },
      {
        kind: 'restart-pod',
        id: 'r1:2',
        rolloutId: 'r1',
        target,
        pod: 'ingester-zone-a-0',
        uid: 'u1',
        method: 'evict',
      },
    ];
    expect(commandsAudit(commands, 5)).toEqual({
      at: 5,
      type: 'commands',
      message:
        'issued 2 command(s): r1:1 apply-template kwok-1/mimir/ingester-zone-a, r1:2 restart-pod kwok-1/mimir/ingester-zone-a-0',
      data: {
        commands: [
          {
            id: 'r1:1',
            kind: 'apply-template',
            target: 'kwok-1/mimir',
            workload: 'ingester-zone-a',
          },
          {
            id: 'r1:2',
            kind: 'restart-pod',
            target: 'kwok-1/mimir',
            pod: 'ingester-zone-a-0',
            uid: 'u1',
          },
        ],
      },
    });
  });

  it('shows 20 in the message, keeps all in data', () => {
    const many: Command[] = Array.from({ length: 25 }, (_, i) => ({
      kind: 'restart-pod',
      id: `r1:${i}`,
      rolloutId: 'r1',
      target,
      pod: `p-${i}`,
      uid: `u${i}`,
      method: 'evict',
    }));
    const a = commandsAudit(many, 0);
    expect(a.message).toMatch(
      /^issued 25 command\(s\): r1:0 .*r1:19 restart-pod kwok-1\/mimir\/p-19, \.\.\.$/,
    );
    expect((a.data as { commands: unknown[] }).commands).toHaveLength(25);
  });
});

describe('RolloutEngine: what is written before an input is acknowledged', () => {
  const target = { cluster: 'kwok-1', namespace: 'mimir' };
  const key = 'kwok-1/mimir';
  let running: RolloutEngine | undefined;
  afterEach(() => running?.stop());

  /** Zone-aware store-gateways: a template change per zone, restarts only once all three revisions are known. */
  function setUp() {
    const store = new ObservedStateStore();
    store.fleet[key] = { workloads: {}, pods: {} };
    for (const zone of ['zone-a', 'zone-b', 'zone-c']) {
      const name = `store-gateway-${zone}`;
      const settled: WorkloadObs = {
        name,
        kind: 'StatefulSet',
        component: 'store-gateway',
        zone,
        updateStrategy: 'OnDelete',
        replicas: 1,
        generation: 1,
        observedGeneration: 1,
        updateRevision: 'r1',
        statusReplicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
        updatedReplicas: 1,
      };
      store.fleet[key].workloads[name] = settled;
    }
    const saves: SaveDecisionInput[] = [];
    let version = 1;
    const state = createRollout(
      'r1',
      {
        targets: [target],
        change: { kind: 'restart' },
        soakSeconds: 0,
        instanceTimeoutSeconds: 600,
        restartMethod: 'evict',
        maxParallelTargets: 1,
      },
      0,
    );
    const repo = {
      failNext: 0,
      failed: 0,
      saveDecision: async (input: SaveDecisionInput) => {
        if (repo.failNext > 0) {
          repo.failNext--;
          repo.failed++;
          throw new Error('Connection terminated unexpectedly');
        }
        saves.push(input);
        return { version: ++version };
      },
      get: async () => ({ id: 'r1', state: saves.at(-1)?.state ?? state, version }),
      listActive: async (): Promise<unknown[]> => [],
    };
    const relay = { kick: () => undefined } as unknown as OutboxRelay;
    const config = { batchMs: 250 } as PlannerConfig;
    const engine = new RolloutEngine(
      repo as unknown as RolloutRepository,
      store,
      relay,
      topicNames('t.'),
      config,
      () => 1_000,
    );
    running = engine;
    return { engine, saves, state, repo, store };
  }

  /** Every zone's store-gateway template change reported done and observed at revision r2. */
  async function templateAppliedInEveryZone({
    engine,
    saves,
    store,
  }: Pick<ReturnType<typeof setUp>, 'engine' | 'saves' | 'store'>): Promise<void> {
    const component = () => saves.at(-1)!.state.targets[key].components['store-gateway'];
    for (const zone of ['zone-a', 'zone-b', 'zone-c']) {
      const commandId = component().workloads[`store-gateway-${zone}`].commandId!;
      await engine.submit('r1', {
        kind: 'command-result',
        commandId,
        outcome: 'done',
        generation: 2,
      });
      const w = store.fleet[key]!.workloads[`store-gateway-${zone}`];
      store.fleet[key]!.workloads[w.name] = {
        ...w,
        generation: 2,
        observedGeneration: 2,
        updateRevision: 'r2',
      };
    }
  }

  it('a command result that changes only state (a generation) is saved before submit resolves', async () => {
    const { engine, saves, state } = setUp();
    await engine.start();
    await engine.track(state, 1);
    // The first decision changes the three templates (three apply-template commands).
    expect(saves).toHaveLength(1);
    expect(saves[0].outbox?.filter((m) => m.topic === 't.rollout.commands')).toHaveLength(3);
    const component = () => saves.at(-1)!.state.targets[key].components['store-gateway'];
    const commandId = component().workloads['store-gateway-zone-a'].commandId!;

    // Zones b and c are still unknown: the result releases nothing and logs nothing...
    const result: RolloutEvent = {
      kind: 'command-result',
      commandId,
      outcome: 'done',
      generation: 2,
    };
    await engine.submit('r1', result);

    // ...and is on disk anyway: a planner killed now must not lose the generation.
    expect(saves).toHaveLength(2);
    expect(saves[1].outbox).toEqual([]);
    expect(saves[1].audit).toEqual([]);
    expect(component().workloads['store-gateway-zone-a'].generation).toBe(2);
  });

  it('a decision on observations that could not be saved is decided again (not lost with its batch)', async () => {
    const { engine, saves, state, repo, store } = setUp();
    store.fleet[key]!.pods['store-gateway'] = Object.fromEntries(
      ['zone-a', 'zone-b', 'zone-c'].map((zone) => [
        `store-gateway-${zone}-0`,
        {
          name: `store-gateway-${zone}-0`,
          uid: `u-${zone}`,
          workload: `store-gateway-${zone}`,
          component: 'store-gateway',
          zone,
          revision: 'r1',
          ready: true,
          readySince: 0,
        },
      ]),
    );
    await engine.start();
    await engine.track(state, 1);
    await templateAppliedInEveryZone({ engine, saves, store });
    const before = saves.length;
    repo.failNext = 1; // e.g. the connection was reset mid-transaction
    engine.onObserved([{ target: key, component: 'store-gateway' }]);
    const released = () =>
      saves
        .slice(before)
        .flatMap((sv) => sv.outbox ?? [])
        .filter((m) => (m.payload as { kind?: string }).kind === 'restart-pod');
    for (let i = 0; i < 50 && released().length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(repo.failed).toBe(1);
    expect(released().map((m) => (m.payload as { pod: string }).pod)).toEqual([
      'store-gateway-zone-a-0',
    ]);
  });

  it('a rollout picked up from Postgres is looked at whole, not only where a timer is due', async () => {
    const { engine, saves, state, repo, store } = setUp();
    const pod = (zone: string, revision: string, uid: string) => ({
      name: `store-gateway-${zone}-0`,
      uid,
      workload: `store-gateway-${zone}`,
      component: 'store-gateway',
      zone,
      revision,
      ready: true,
      readySince: 0,
    });
    store.fleet[key]!.pods['store-gateway'] = Object.fromEntries(
      ['zone-a', 'zone-b', 'zone-c'].map((z) => [`store-gateway-${z}-0`, pod(z, 'r1', `u-${z}`)]),
    );
    await engine.start();
    await engine.track(state, 1);
    await templateAppliedInEveryZone({ engine, saves, store });
    engine.onObserved([{ target: key, component: 'store-gateway' }]);
    const restarts = () =>
      saves
        .flatMap((sv) => sv.outbox ?? [])
        .map((m) => m.payload as { kind?: string; pod?: string })
        .filter((c) => c.kind === 'restart-pod')
        .map((c) => c.pod);
    for (let i = 0; i < 50 && restarts().length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(restarts()).toEqual(['store-gateway-zone-a-0']);
    // Leadership lost; meanwhile zone-a's pod came back (its change not seen by anyone).
    await engine.stop();
    store.fleet[key]!.pods['store-gateway']['store-gateway-zone-a-0'] = pod(
      'zone-a',
      'r2',
      'u-new',
    );
    const saved = saves.at(-1)!;
    repo.listActive = async () => [
      { id: 'r1', state: saved.state, version: 99, status: 'running' },
    ];
    await engine.start(); // leader again: picks the rollout up from Postgres
    for (let i = 0; i < 50 && restarts().length < 2; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(restarts()).toEqual(['store-gateway-zone-a-0', 'store-gateway-zone-b-0']);
  });

  it.each<[RolloutEvent, boolean]>([
    [{ kind: 'observed', target: 'c/ns' }, true],
    [{ kind: 'tick' }, true],
    [{ kind: 'command-result', commandId: 'r1:1', outcome: 'done' }, false],
    [{ kind: 'pause' }, false],
    [{ kind: 'resume' }, false],
    [{ kind: 'abort' }, false],
  ])('isLevelTriggered(%j) === %s', (event, level) => {
    expect(isLevelTriggered(event)).toBe(level);
  });
});
