import { toWorkloadStateMessage, type RolloutRequest } from '@ringmaster/contracts';
import {
  TargetBusyError,
  type InsertRolloutOptions,
  type RolloutRepository,
} from '@ringmaster/persistence';
import type { WorkloadObs } from '@ringmaster/rollout-core';
import { ObservedStateStore } from './observed-state.store';
import type { RolloutEngine } from './rollout.engine';
import { RolloutRequestError, RolloutService } from './rollout.service';

const workload: WorkloadObs = {
  name: 'compactor',
  kind: 'StatefulSet',
  component: 'compactor',
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

function observed(...namespaces: string[]): ObservedStateStore {
  const s = new ObservedStateStore();
  for (const namespace of namespaces)
    s.applyWorkload(
      `c1/${namespace}/compactor`,
      toWorkloadStateMessage({ cluster: 'c1', namespace }, workload, {
        resourceVersion: '1',
        observedAt: 1,
      }),
    );
  return s;
}

const request = (...namespaces: string[]): RolloutRequest => ({
  targets: namespaces.map((namespace) => ({ cluster: 'c1', namespace })),
  change: { kind: 'restart' },
  soakSeconds: 0,
  instanceTimeoutSeconds: 600,
  restartMethod: 'evict',
  maxParallelTargets: 1,
  takeOver: false,
  dryRun: false,
});

describe('RolloutService.create: one active rollout per target', () => {
  it('asks the repository for an exclusive insert and answers a busy target with 409 naming the holder', async () => {
    const inserts: InsertRolloutOptions[] = [];
    const repo = {
      findByKeys: async () => null,
      insertRollout: async (_state: unknown, options: InsertRolloutOptions) => {
        inserts.push(options);
        throw new TargetBusyError([
          { target: 'c1/b', rolloutId: '6f1c0d5e-0000-4000-8000-000000000001', status: 'running' },
        ]);
      },
    } as unknown as RolloutRepository;
    const service = new RolloutService(repo, observed('a', 'b'), {} as RolloutEngine);

    const refused = await service.create(request('a', 'b')).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(inserts).toHaveLength(1);
    expect(inserts[0].exclusiveTargets).toBe(true);
    expect(refused).toBeInstanceOf(RolloutRequestError);
    expect(refused).toMatchObject({
      status: 409,
      problems: [
        'targets.1: c1/b has an active rollout 6f1c0d5e-0000-4000-8000-000000000001 (running); wait for it to end, or abort it',
      ],
    });
  });

  it('a dry run of a busy target still plans (it creates nothing)', async () => {
    const repo = {
      insertRollout: async () => {
        throw new Error('a dry run must not insert');
      },
    } as unknown as RolloutRepository;
    const service = new RolloutService(repo, observed('a'), {} as RolloutEngine);
    const r = await service.create({ ...request('a'), dryRun: true });
    expect(r.kind).toBe('dry-run');
  });
});
