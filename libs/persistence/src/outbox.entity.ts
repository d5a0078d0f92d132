/**
 * `outbox`: Kafka messages written in the same transaction as the state change that caused them,
 * sent afterwards by the relay. A crash between commit and send loses nothing (the row stays
 * unsent); a crash between send and markSent sends a message twice, which consumers tolerate
 * (commands carry ids). `claimed_until` lets a relay claim rows without holding a transaction
 * open across the Kafka send; an expired claim is up for grabs again.
 */
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'outbox' })
@Index('outbox_unsent_idx', ['id'], { where: 'sent_at IS NULL' })
export class OutboxEntity {
  @PrimaryGeneratedColumn('increment', { type: 'bigint', primaryKeyConstraintName: 'outbox_pkey' })
  id!: string;

  @Column('text')
  topic!: string;

  @Column('text', { nullable: true })
  key!: string | null;

  @Column('jsonb')
  payload!: unknown;

  @Column('jsonb', { nullable: true })
  headers!: Record<string, string> | null;

  @Column('timestamptz', { name: 'created_at', default: () => 'now()' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'sent_at', nullable: true })
  sentAt!: Date | null;

  @Column('timestamptz', { name: 'claimed_until', nullable: true })
  claimedUntil!: Date | null;

  @Column('integer', { default: 0 })
  attempts!: number;

  @Column('text', { name: 'last_error', nullable: true })
  lastError!: string | null;
}
