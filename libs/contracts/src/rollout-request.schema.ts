/**
 * A request to roll something out: the REST body (`POST /rollouts`) and, wrapped in an envelope
 * with a `requestId` and `producer`, the event other systems put on `rollout.requests`.
 *
 * Strict on purpose: an unknown key in a request is almost always a typo, and a typo that is
 * silently dropped can be dangerous (`dryrun: true` would roll the fleet for real).
 *
 * Example (the smallest valid body; defaults filled in by the schema):
 *
 *   { "targets": [{ "cluster": "eu-1", "namespace": "mimir" }], "change": { "kind": "restart" } }
 *   -> soakSeconds 0, instanceTimeoutSeconds 600, restartMethod "evict", maxParallelTargets 1,
 *      takeOver false, dryRun false
 */
import { z } from 'zod';
import type { ComponentOverride, RolloutSpec } from '@ringmaster/rollout-core';
import {
  ChangeSchema,
  ComponentNameSchema,
  NonEmptyString,
  TargetKeySchema,
  TargetRefSchema,
  assertType,
  envelope,
  type Mutual,
} from './common.schema';

export const DEFAULT_SOAK_SECONDS = 0;
/** Ten minutes: an ingester replaying a large WAL can take several minutes to become Ready. */
export const DEFAULT_INSTANCE_TIMEOUT_SECONDS = 600;
/** A day: anything longer is a mistake in units (ms for s), not a plan. */
export const MAX_DURATION_SECONDS = 24 * 60 * 60;

export const ComponentOverrideSchema = z
  .object({
    /** 0 would stall the component forever; use a pause for that. */
    maxUnavailable: z.number().int().min(1).optional(),
    maxUnavailableZones: z.number().int().min(1).optional(),
    probeReady: z.boolean().optional(),
    unsafe: z.boolean().optional(),
  })
  .strict();
assertType<Mutual<z.output<typeof ComponentOverrideSchema>, ComponentOverride>>();

const requestShape = {
  targets: z.array(TargetRefSchema.strict()).min(1, 'at least one target is required').max(1000),
  change: ChangeSchema,
  /** Subset of components; all discovered components when absent or empty. */
  components: z.array(ComponentNameSchema).optional(),
  overrides: z.record(ComponentNameSchema, ComponentOverrideSchema).optional(),
  soakSeconds: z.number().int().min(0).max(MAX_DURATION_SECONDS).default(DEFAULT_SOAK_SECONDS),
  instanceTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_DURATION_SECONDS)
    .default(DEFAULT_INSTANCE_TIMEOUT_SECONDS),
  restartMethod: z.enum(['evict', 'delete']).default('evict'),
  maxParallelTargets: z.number().int().min(1).max(1000).default(1),
  /** `cluster/namespace` of one of the targets: it rolls alone first. */
  canary: TargetKeySchema.optional(),
  takeOver: z.boolean().default(false),
  /** Plan only: the planner answers with the plan and ETA and starts nothing. */
  dryRun: z.boolean().default(false),
};

type RequestShape = z.infer<z.ZodObject<typeof requestShape>>;

/** Cross-field rules: targets are distinct, the canary is one of them. */
function checkRequest(r: RequestShape, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  r.targets.forEach((t, i) => {
    const key = `${t.cluster}/${t.namespace}`;
    if (seen.has(key))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['targets', i],
        message: `duplicate target ${key}`,
      });
    seen.add(key);
  });
  if (r.canary !== undefined && !seen.has(r.canary)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ['canary'],
      message: `${r.canary} is not one of the targets`,
    });
  }
}

/** The REST body of `POST /rollouts`. */
export const RolloutRequestSchema = z.object(requestShape).strict().superRefine(checkRequest);
export type RolloutRequest = z.output<typeof RolloutRequestSchema>;
/** What a client may send (defaults optional). */
export type RolloutRequestInput = z.input<typeof RolloutRequestSchema>;

export const ROLLOUT_REQUEST_TYPE = 'rollout.request';

/**
 * The event on `rollout.requests`. `requestId` is the producer's id for the request: the planner
 * creates at most one rollout per requestId, so redelivery or a producer retry is harmless.
 * `producer` names the sending system (for the audit trail and status events).
 */
export const RolloutRequestEventSchema = z
  .object({
    ...envelope(ROLLOUT_REQUEST_TYPE),
    requestId: NonEmptyString.max(200),
    producer: NonEmptyString.max(200),
    ...requestShape,
  })
  .strict()
  .superRefine(checkRequest);
export type RolloutRequestEvent = z.output<typeof RolloutRequestEventSchema>;
export type RolloutRequestEventInput = z.input<typeof RolloutRequestEventSchema>;

/**
 * A parsed request -> the core's RolloutSpec. `dryRun` is not part of the spec (it decides
 * whether a rollout is created at all); optional fields left out stay absent.
 */
export function toRolloutSpec(req: RolloutRequest | RolloutRequestEvent): RolloutSpec {
  const spec: RolloutSpec = {
    targets: req.targets.map((t) => ({ cluster: t.cluster, namespace: t.namespace })),
    change: req.change,
    soakSeconds: req.soakSeconds,
    instanceTimeoutSeconds: req.instanceTimeoutSeconds,
    restartMethod: req.restartMethod,
    maxParallelTargets: req.maxParallelTargets,
    takeOver: req.takeOver,
  };
  if (req.components && req.components.length > 0) spec.components = [...req.components];
  if (req.overrides && Object.keys(req.overrides).length > 0) spec.overrides = req.overrides;
  if (req.canary !== undefined) spec.canary = req.canary;
  return spec;
}
