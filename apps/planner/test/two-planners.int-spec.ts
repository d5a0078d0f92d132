/**
 * Two planners driving the same rollout at once (both believe they lead: a lease that expired
 * mid-step) must never both release a command. Real Postgres; each planner has its own
 * connection pool, as two processes would. Observations are fed by hand (our own port).
 */
import { createRollout, type RolloutSpec } from '@ringmaster/rollout-core';
import {
  topicNames,
  toPodStateMessage,
  toWorkloadStateMessage,
  type CommandMessage,
} from '@ringmaster/contracts';
import { openTestDatabase, RolloutRepository, type TestDatabase } from '@ringmaster/persistence';
import { ObservedStateStore } from '../src/observed-state.store';
import { RolloutEngine } from '../src/rollout.engine';
import type { OutboxRelay } from '../src/outbox.relay';

const target = { cluster: 'c1', namespace: 'mimir' };
const relay = { kick: () => undefined } as unknown as OutboxRelay;
const config = {
  plannerId: 'x',
  batchMs: 1,
  leaseTtlMs: 10_000,
  tokensFile: '/dev/null', // no HTTP in this test
  groupId: 'g',
  rateLimitRps: 0,
  rateLimitBurst: 1,
};

function observe(
  store: ObservedStateStore,
  generation: number,
  revision: string,
  rv: number,
): void {
  store.applyWorkload(
    'c1/mimir/ingester',
    toWorkloadStateMessage(
      target,
      {
        name: 'ingester',
        kind: 'StatefulSet',
        component: 'ingester',
        updateStrategy: 'OnDelete',
        replicas: 3,
        generation,
        observedGeneration: generation,
        updateRevision: revision,
        statusReplicas: 3,
        readyReplicas: 3,
        availableReplicas: 3,
        updatedReplicas: 0,
      },
      { resourceVersion: String(rv), observedAt: rv },
    ),
  );
  for (let i = 0; i < 3; i++) {
    const pod = {
      name: `ingester-${i}`,
      uid: `u${i}`,
      workload: 'ingester',
      component: 'ingester',
      revision: 'r1',
      ready: true,
      readySince: 0,
    };
    store.applyPod(
      `c1/mimir/ingester-${i}`,
      toPodStateMessage(target, pod, { resourceVersion: String(rv + i + 1), observedAt: rv }),
    );
  }
}

async function commands(db: TestDatabase): Promise<CommandMessage[]> {
  const rows: { payload: CommandMessage }[] = await db.ds.query(
    `SELECT payload FROM outbox WHERE topic = $1 ORDER BY id`,
    [topicNames().commands],
  );
  return rows.map((r) => r.payload);
}

describe('two planners on one rollout', () => {
  let db: TestDatabase;
  afterAll(async () => db?.drop());

  it('release each command once: a decision commits only over the version it read', async () => {
    db = await openTestDatabase('rm_planner');
    const repos = [new RolloutRepository(db.ds), new RolloutRepository(await db.openAnother())];
    const stores = [new ObservedStateStore(), new ObservedStateStore()];
    stores.forEach((s) => observe(s, 1, 'r1', 100));
    const engines = repos.map(
      (r, i) => new RolloutEngine(r, stores[i], relay, topicNames(), config),
    );

    const spec: RolloutSpec = {
      targets: [target],
      change: { kind: 'restart' },
      soakSeconds: 0,
      instanceTimeoutSeconds: 600,
      restartMethod: 'evict',
      maxParallelTargets: 1,
    };
    const state = createRollout('5b0c5f46-2c4f-4a57-9a39-0e0f4a4f6c11', spec, Date.now());
    await repos[0].insertRollout(state);

    // Both adopt it and decide at the same moment.
    await Promise.all(engines.map((e) => e.start()));
    await new Promise((r) => setTimeout(r, 500));
    const first = await commands(db);
    expect(first.map((c) => c.kind)).toEqual(['apply-template']);

    // Both get the executor's result and the controller's new revision, at the same moment.
    const result = {
      kind: 'command-result' as const,
      commandId: first[0].id,
      outcome: 'done' as const,
      generation: 2,
    };
    await Promise.all(engines.map((e) => e.submit(state.id, result)));
    stores.forEach((s) => observe(s, 2, 'r2', 200));
    engines.forEach((e) => e.onObserved([{ target: 'c1/mimir', component: 'ingester' }]));
    await new Promise((r) => setTimeout(r, 800));

    const all = await commands(db);
    const restarts = all.filter((c) => c.kind === 'restart-pod');
    expect(restarts.map((c) => (c.kind === 'restart-pod' ? c.pod : ''))).toEqual(['ingester-0']);
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
    await Promise.all(engines.map((e) => e.stop()));
  });
});
