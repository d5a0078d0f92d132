/**
 * `rollouts`: one row per rollout. `state` is the core's whole RolloutState (the planner loads
 * it, calls decide(), and writes it back); `status` and `reason` are copies of state.status and
 * state.reason kept as columns so lists and the active set are queries, not JSON scans.
 * `version` is bumped by every write: saveDecision only writes over the version it read.
 */
import { Check, Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';
import type { RolloutSpec, RolloutState, RolloutStatus } from '@ringmaster/rollout-core';

export const ROLLOUT_STATUSES: readonly RolloutStatus[] = [
  'pending',
  'running',
  'paused',
  'blocked',
  'succeeded',
  'failed',
  'aborted',
];
/** Rollouts the planner still drives (decide() may act on them). */
export const ACTIVE_ROLLOUT_STATUSES: readonly RolloutStatus[] = [
  'pending',
  'running',
  'paused',
  'blocked',
];

@Entity({ name: 'rollouts' })
@Check('rollouts_status_check', `status IN (${ROLLOUT_STATUSES.map((s) => `'${s}'`).join(', ')})`)
@Unique('rollouts_idempotency_key_uq', ['idempotencyKey'])
@Unique('rollouts_request_id_uq', ['requestId'])
@Index('rollouts_status_idx', ['status'])
@Index('rollouts_created_idx', ['createdAt', 'id'])
export class RolloutEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'rollouts_pkey' })
  id!: string;

  @Column('text')
  status!: RolloutStatus;

  @Column('jsonb')
  spec!: RolloutSpec;

  @Column('jsonb')
  state!: RolloutState;

  @Column('text', { nullable: true })
  reason!: string | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'updated_at', default: () => 'now()' })
  updatedAt!: Date;

  @Column('integer', { default: 1 })
  version!: number;

  /** `Idempotency-Key` of the REST request that created it. */
  @Column('text', { name: 'idempotency_key', nullable: true })
  idempotencyKey!: string | null;

  /** `requestId` of the rollout.requests event that created it. */
  @Column('text', { name: 'request_id', nullable: true })
  requestId!: string | null;

  /** Who asked: the REST caller's identity or the event's `producer`. */
  @Column('text', { name: 'requested_by', nullable: true })
  requestedBy!: string | null;
}
