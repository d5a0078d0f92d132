/**
 * `rollout.commands`: the core's Command, as the planner sends it to executors, plus `issuedAt`.
 * Key: the target's cluster (`commandKey`), so one executor at a time acts on a cluster and its
 * commands stay in order.
 *
 * Example:
 *   { "v": 1, "type": "rollout.command", "issuedAt": 1735689600000,
 *     "kind": "restart-pod", "id": "7b0c...:4", "rolloutId": "7b0c...",
 *     "target": { "cluster": "eu-1", "namespace": "mimir" },
 *     "pod": "mimir-ingester-zone-a-0", "uid": "5f1e...", "method": "evict" }
 *
 * The command id (`<rolloutId>:<seq>`) is the executor's idempotency key.
 */
import { z } from 'zod';
import type { Command } from '@ringmaster/rollout-core';
import {
  ChangeSchema,
  EpochMsSchema,
  NonEmptyString,
  ObjectNameSchema,
  TargetRefSchema,
  assertType,
  envelope,
  type Mutual,
} from './common.schema';

export const COMMAND_TYPE = 'rollout.command';

const base = {
  ...envelope(COMMAND_TYPE),
  /** When the planner decided it (epoch ms); executors may log how stale a command is. */
  issuedAt: EpochMsSchema,
  id: NonEmptyString.max(300),
  rolloutId: NonEmptyString.max(200),
  target: TargetRefSchema,
};

/**
 * Strict: an executor that doesn't know a field of a command must not act on the rest of it.
 * A new field means a new `v`.
 */
export const CommandMessageSchema = z.discriminatedUnion('kind', [
  z
    .object({
      ...base,
      kind: z.literal('apply-template'),
      workload: ObjectNameSchema,
      change: ChangeSchema,
      takeOver: z.boolean(),
    })
    .strict(),
  z
    .object({
      ...base,
      kind: z.literal('roll-deployment'),
      workload: ObjectNameSchema,
      change: ChangeSchema,
      maxUnavailable: z.number().int().min(1),
      minReadySeconds: z.number().int().min(0),
    })
    .strict(),
  z
    .object({
      ...base,
      kind: z.literal('set-deployment-paused'),
      workload: ObjectNameSchema,
      paused: z.boolean(),
    })
    .strict(),
  z
    .object({
      ...base,
      kind: z.literal('restart-pod'),
      pod: ObjectNameSchema,
      uid: NonEmptyString,
      method: z.enum(['evict', 'delete']),
    })
    .strict(),
]);

export type CommandMessage = z.output<typeof CommandMessageSchema>;
type Envelope = 'v' | 'type' | 'issuedAt';
assertType<Mutual<DistributiveOmit<CommandMessage, Envelope>, Command>>();

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Core command -> message. */
export function toCommandMessage(command: Command, issuedAt: number): CommandMessage {
  return { ...command, v: 1, type: COMMAND_TYPE, issuedAt };
}

/** Message -> core command (the envelope dropped). */
export function fromCommandMessage(message: CommandMessage): Command {
  const { v: _v, type: _t, issuedAt: _i, ...command } = message;
  return command as Command;
}

/** Kafka key of a command: its cluster. */
export function commandKey(command: Pick<Command, 'target'>): string {
  return command.target.cluster;
}
