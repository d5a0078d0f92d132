/** Every entity, for the DataSource. */
import { LeaseEntity } from './lease.entity';
import { OutboxEntity } from './outbox.entity';
import { RolloutEventEntity } from './rollout-event.entity';
import { RolloutTargetEntity } from './rollout-target.entity';
import { RolloutEntity } from './rollout.entity';

export const ENTITIES = [
  RolloutEntity,
  RolloutTargetEntity,
  RolloutEventEntity,
  OutboxEntity,
  LeaseEntity,
];
