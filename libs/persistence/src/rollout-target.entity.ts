/**
 * `rollout_targets`: the (cluster, namespace) pairs of a rollout, one row each, so "rollouts
 * touching cluster eu-1" is an indexed lookup rather than a scan of every spec.
 */
import { Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';
import { RolloutEntity } from './rollout.entity';

@Entity({ name: 'rollout_targets' })
@Index('rollout_targets_cluster_idx', ['cluster', 'namespace'])
export class RolloutTargetEntity {
  @PrimaryColumn('uuid', { name: 'rollout_id', primaryKeyConstraintName: 'rollout_targets_pkey' })
  @ForeignKey(() => RolloutEntity, 'id', {
    name: 'rollout_targets_rollout_fk',
    onDelete: 'CASCADE',
  })
  rolloutId!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'rollout_targets_pkey' })
  cluster!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'rollout_targets_pkey' })
  namespace!: string;
}
