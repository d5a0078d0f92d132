/**
 * Building blocks shared by the message schemas: the envelope and the field types that recur
 * (cluster and namespace names, epoch-ms times, the core's Change).
 */
import { z } from 'zod';
import { MESSAGE_VERSION } from './topics.constants';

/**
 * A cluster name as configured in Ringmaster (a kubeconfig context or its alias). Any visible
 * characters except `/`, which separates the parts of target and object keys (`cluster/ns/name`).
 */
export const ClusterNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(253)
  .regex(/^[^/\s]+$/, 'must not contain "/" or whitespace');

/** A Kubernetes namespace: an RFC 1123 label (lower-case alphanumerics and `-`, at most 63). */
export const NamespaceSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be an RFC 1123 label (e.g. "mimir-prod")');

/** A Kubernetes object name (RFC 1123 subdomain, at most 253). */
export const ObjectNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be an RFC 1123 subdomain');

/**
 * Names of Object.prototype's members (`__proto__`, `constructor`, `toString`, ...). Readers
 * index plain objects by component name (`pods[component] ??= {}`): under `__proto__` an
 * observation would be written into Object.prototype (every object of the planner would grow
 * the pod's name), under `constructor` onto the Object function, and lost either way.
 */
export const OBJECT_PROTOTYPE_NAMES: ReadonlySet<string> = new Set(
  Object.getOwnPropertyNames(Object.prototype),
);

/**
 * A Mimir component name as the labels give it (`ingester`, `store-gateway`, `all`). Never a
 * name of Object.prototype's members (OBJECT_PROTOTYPE_NAMES): no Mimir component is called
 * that, and a reader's maps would break on it.
 */
export const ComponentNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(253)
  .refine((name) => !OBJECT_PROTOTYPE_NAMES.has(name), {
    message: 'must not be the name of an Object.prototype member (e.g. "__proto__")',
  });

/** Milliseconds since the epoch (how the core and every message count time). */
export const EpochMsSchema = z.number().int().nonnegative();

export const NonEmptyString = z.string().min(1, 'must not be empty');

export const TargetRefSchema = z.object({ cluster: ClusterNameSchema, namespace: NamespaceSchema });

/** `cluster/namespace`, the core's TargetKey. */
export const TargetKeySchema = z
  .string()
  .regex(/^[^/\s]+\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be "cluster/namespace"');

const StringMap = z.record(z.string().min(1), z.string());

/**
 * The core's Change (what a rollout changes in the pod template). Strict everywhere: a reader
 * that silently dropped a field it doesn't know would apply half a change.
 */
export const ChangeSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('restart') }).strict(),
    z
      .object({
        kind: z.literal('image'),
        image: z.string().min(1, 'must not be empty').max(1024),
        container: z.string().min(1).max(253).optional(),
      })
      .strict(),
    z
      .object({
        kind: z.literal('template'),
        annotations: StringMap.optional(),
        env: StringMap.optional(),
      })
      .strict(),
  ])
  .superRefine((c, ctx) => {
    if (
      c.kind === 'template' &&
      Object.keys(c.annotations ?? {}).length + Object.keys(c.env ?? {}).length === 0
    ) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: 'a template change needs at least one annotation or env entry',
      });
    }
  });

/**
 * The envelope every message carries: `{ v: 1, type }`. parseMessage checks `v` before the
 * schema runs, so an unknown version is reported as such rather than as a field mismatch.
 */
export function envelope<T extends string>(type: T) {
  return { v: z.literal(MESSAGE_VERSION), type: z.literal(type) };
}

/** Compile-time check that a schema and a core type describe the same shape (both ways). */
export type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export function assertType<_T extends true>(): void {}
