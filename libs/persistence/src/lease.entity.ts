/**
 * `leases`: named leases with an expiry, e.g. `planner` for planner leadership: only the holder
 * decides and relays the outbox. `token` grows by one every time the lease changes hands, a
 * fencing token the holder can attach to its writes.
 */
import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'leases' })
export class LeaseEntity {
  @PrimaryColumn('text', { primaryKeyConstraintName: 'leases_pkey' })
  name!: string;

  @Column('text')
  holder!: string;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt!: Date;

  @Column('bigint', { default: 1 })
  token!: string;

  @Column('timestamptz', { name: 'acquired_at', default: () => 'now()' })
  acquiredAt!: Date;
}
