/**
 * `rollout_events`: the audit trail, append-only. One row per AuditEntry decide() returned, plus
 * the planner's own (created, paused by whom, ...). `data` holds structured detail when there is
 * any (the command issued, the observation that blocked).
 */
import { Column, Entity, ForeignKey, Index, PrimaryGeneratedColumn } from 'typeorm';
import { RolloutEntity } from './rollout.entity';

@Entity({ name: 'rollout_events' })
@Index('rollout_events_rollout_idx', ['rolloutId', 'id'])
export class RolloutEventEntity {
  /** bigserial; pg returns int8 as a string, and so do we (no precision loss). */
  @PrimaryGeneratedColumn('increment', {
    type: 'bigint',
    primaryKeyConstraintName: 'rollout_events_pkey',
  })
  id!: string;

  @Column('uuid', { name: 'rollout_id' })
  @ForeignKey(() => RolloutEntity, 'id', { name: 'rollout_events_rollout_fk', onDelete: 'CASCADE' })
  rolloutId!: string;

  @Column('timestamptz')
  at!: Date;

  @Column('text')
  type!: string;

  @Column('text')
  message!: string;

  @Column('jsonb', { nullable: true })
  data!: unknown;
}
