/**
 * `rollout.status`: a rollout's status as other systems see it (portal, chat ops, the system that
 * sent the request). Key: the rollout id. Sent on every status change and when progress moves;
 * the latest one per rollout is the truth.
 *
 * Example:
 *   { "v": 1, "type": "rollout.status", "rolloutId": "7b0c...", "requestId": "ci-4711",
 *     "status": "blocked", "reason": "eu-1/mimir ingester: mimir-ingester-zone-b-2 not Ready after 600 s",
 *     "at": 1735690200000,
 *     "progress": { "targets": { "total": 3, "pending": 1, "running": 0, "succeeded": 1, "blocked": 1, "aborted": 0 },
 *                   "instances": { "restarted": 41, "total": 57 } } }
 */
import { z } from 'zod';
import type { RolloutState, RolloutStatus, TargetStatus } from '@ringmaster/rollout-core';
import { EpochMsSchema, NonEmptyString, assertType, envelope, type Mutual } from './common.schema';

export const ROLLOUT_STATUS_TYPE = 'rollout.status';

export const RolloutStatusSchema = z.enum([
  'pending',
  'running',
  'paused',
  'blocked',
  'succeeded',
  'failed',
  'aborted',
]);
assertType<Mutual<z.output<typeof RolloutStatusSchema>, RolloutStatus>>();

const TARGET_STATUSES = [
  'pending',
  'running',
  'succeeded',
  'blocked',
  'aborted',
] as const satisfies readonly TargetStatus[];
const Count = z.number().int().nonnegative();

export const ProgressSummarySchema = z.object({
  targets: z.object({
    total: Count,
    pending: Count,
    running: Count,
    succeeded: Count,
    blocked: Count,
    aborted: Count,
  }),
  /** Pods (and Deployment replicas) replaced so far, of those known to need it. */
  instances: z.object({ restarted: Count, total: Count }),
});
export type ProgressSummary = z.output<typeof ProgressSummarySchema>;

export const RolloutStatusMessageSchema = z.object({
  ...envelope(ROLLOUT_STATUS_TYPE),
  rolloutId: NonEmptyString,
  /** The `requestId` of the event that asked for it, so its producer can correlate. */
  requestId: z.string().optional(),
  status: RolloutStatusSchema,
  reason: z.string().max(4096).optional(),
  at: EpochMsSchema,
  progress: ProgressSummarySchema,
});
export type RolloutStatusMessage = z.output<typeof RolloutStatusMessageSchema>;

/** Counts from the core's state: targets by status, instances restarted of the known total. */
export function summarizeProgress(state: RolloutState): ProgressSummary {
  const targets = { total: 0, pending: 0, running: 0, succeeded: 0, blocked: 0, aborted: 0 };
  const instances = { restarted: 0, total: 0 };
  for (const t of Object.values(state.targets)) {
    targets.total++;
    if ((TARGET_STATUSES as readonly string[]).includes(t.status)) targets[t.status]++;
    for (const c of Object.values(t.components)) {
      instances.restarted += c.restarted;
      instances.total += c.total;
    }
  }
  return { targets, instances };
}

/** The status message for a state at `at` (epoch ms). */
export function toRolloutStatusMessage(
  state: RolloutState,
  at: number,
  requestId?: string,
): RolloutStatusMessage {
  const m: RolloutStatusMessage = {
    v: 1,
    type: ROLLOUT_STATUS_TYPE,
    rolloutId: state.id,
    status: state.status,
    at,
    progress: summarizeProgress(state),
  };
  if (requestId !== undefined) m.requestId = requestId;
  if (state.reason !== undefined) m.reason = state.reason.slice(0, 4096);
  return m;
}
