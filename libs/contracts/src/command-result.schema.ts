/**
 * `rollout.command-results`: what an executor did with a command. Key: the rollout id
 * (`commandResultKey`), so the results of one rollout arrive in order.
 *
 * Example:
 *   { "v": 1, "type": "rollout.command-result", "commandId": "7b0c...:4", "rolloutId": "7b0c...",
 *     "target": { "cluster": "eu-1", "namespace": "mimir" }, "outcome": "refused",
 *     "detail": "Cannot evict pod as it would violate the pod's disruption budget.",
 *     "executor": "executor-5d8f-x2", "at": 1735689601000 }
 *
 * The planner feeds it to the core as `{ kind: 'command-result', commandId, outcome, detail,
 * generation }` (toCommandResultEvent).
 */
import { z } from 'zod';
import type { CommandOutcome, RolloutEvent } from '@ringmaster/rollout-core';
import {
  EpochMsSchema,
  NonEmptyString,
  TargetRefSchema,
  assertType,
  envelope,
  type Mutual,
} from './common.schema';

export const COMMAND_RESULT_TYPE = 'rollout.command-result';

/**
 * `unreachable` (the executor could not connect to the cluster's API for a while and gave the
 * command back; see CommandOutcome) was added after v1 shipped: a planner older than the
 * executors would dead-letter such results, so upgrade planners first.
 */
export const CommandOutcomeSchema = z.enum([
  'done',
  'already-done',
  'refused',
  'failed',
  'unreachable',
]);
assertType<Mutual<z.output<typeof CommandOutcomeSchema>, CommandOutcome>>();

export const CommandResultMessageSchema = z.object({
  ...envelope(COMMAND_RESULT_TYPE),
  commandId: NonEmptyString.max(300),
  rolloutId: NonEmptyString.max(200),
  target: TargetRefSchema,
  outcome: CommandOutcomeSchema,
  /** Human-readable: the refusal or failure message, or what was found. */
  detail: z.string().max(4096).optional(),
  /** The workload's metadata.generation after a template change. */
  generation: z.number().int().nonnegative().optional(),
  /** Which executor instance acted (pod name or hostname). */
  executor: NonEmptyString.max(253),
  at: EpochMsSchema,
});
export type CommandResultMessage = z.output<typeof CommandResultMessageSchema>;
export type CommandResultMessageInput = Omit<
  z.input<typeof CommandResultMessageSchema>,
  'v' | 'type'
>;

export function toCommandResultMessage(fields: CommandResultMessageInput): CommandResultMessage {
  return { v: 1, type: COMMAND_RESULT_TYPE, ...fields };
}

/** The core's input for a result. */
export function toCommandResultEvent(
  m: CommandResultMessage,
): Extract<RolloutEvent, { kind: 'command-result' }> {
  const event: Extract<RolloutEvent, { kind: 'command-result' }> = {
    kind: 'command-result',
    commandId: m.commandId,
    outcome: m.outcome,
  };
  if (m.detail !== undefined) event.detail = m.detail;
  if (m.generation !== undefined) event.generation = m.generation;
  return event;
}

export function commandResultKey(m: Pick<CommandResultMessage, 'rolloutId'>): string {
  return m.rolloutId;
}
