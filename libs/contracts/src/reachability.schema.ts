/**
 * `cluster.reachability` (compacted): whether the health watcher can reach a target's
 * Kubernetes API, keyed `cluster/namespace` (the target). The planner blocks the target while
 * it is unreachable (`cluster X unreachable since T: reason`) instead of reading the last
 * observations of `cluster.pods` / `cluster.workloads` as if they were current, and resumes it
 * when the watcher sees the cluster again.
 *
 * Example:
 *   key   eu-1/mimir
 *   value { "v": 1, "type": "cluster.reachability", "cluster": "eu-1", "namespace": "mimir",
 *           "reachable": false, "since": 1735689600000,
 *           "reason": "watch pods: connect ECONNREFUSED 10.0.0.1:6443", "observedAt": 1735689610000 }
 *
 * A tombstone (null) means "nothing known" (a target no longer watched): treated as reachable.
 * Readers keep the newest message per key (`observedAt`).
 */
import { z } from 'zod';
import { ClusterNameSchema, EpochMsSchema, NamespaceSchema, envelope } from './common.schema';
import { parseCompacted, type ParseResult } from './message.parser';

export const REACHABILITY_TYPE = 'cluster.reachability';

export const TargetReachabilityMessageSchema = z.object({
  ...envelope(REACHABILITY_TYPE),
  cluster: ClusterNameSchema,
  namespace: NamespaceSchema,
  reachable: z.boolean(),
  /** Since when it is so (epoch ms); unreachable: the first failure not followed by a success. */
  since: EpochMsSchema,
  /** Unreachable: the last error. */
  reason: z.string().max(2000).optional(),
  observedAt: EpochMsSchema,
});
export type TargetReachabilityMessage = z.output<typeof TargetReachabilityMessageSchema>;

/** Key of a reachability message: the target, `cluster/namespace`. */
export function reachabilityKey(m: { cluster: string; namespace: string }): string {
  return `${m.cluster}/${m.namespace}`;
}

/**
 * parseCompacted, and a key that is the value's `cluster/namespace` (a tombstone's key must
 * have that shape): a message under another key would outlive its target's later messages.
 *
 *   parseReachability('eu-1/other', { ...cluster: 'eu-1', namespace: 'mimir' ... })
 *     -> { ok: false, reason: 'key: "eu-1/other" is not the value\'s cluster/namespace "eu-1/mimir"' }
 */
export function parseReachability(
  key: string | null | undefined,
  raw: Buffer | string | null | undefined,
): ParseResult<TargetReachabilityMessage | null> {
  const r = parseCompacted(TargetReachabilityMessageSchema, raw);
  if (!r.ok) return r;
  if (!key) return { ok: false, reason: 'key: missing (must be "cluster/namespace")' };
  const shown = JSON.stringify(key.length > 300 ? `${key.slice(0, 300)}…` : key);
  if (r.value === null) {
    const parts = key.split('/');
    if (parts.length !== 2 || parts.some((p) => p.length === 0))
      return { ok: false, reason: `key: ${shown} of a tombstone is not "cluster/namespace"` };
    return r;
  }
  const expected = reachabilityKey(r.value);
  if (key !== expected)
    return {
      ok: false,
      reason: `key: ${shown} is not the value's cluster/namespace ${JSON.stringify(expected)}`,
    };
  return r;
}
