/**
 * `cluster.pods` and `cluster.workloads` (compacted): the health watcher's last observation of
 * each pod and workload, keyed `cluster/namespace/name`. A null value (tombstone) means the
 * object is gone. The planner rebuilds its ObservedFleet by reading both topics from the start.
 *
 * Values are the core's PodObs / WorkloadObs plus where the object lives (`cluster`,
 * `namespace`), the object's `resourceVersion` and when it was observed (`observedAt`, epoch ms).
 * Not strict: a reader ignores fields a newer watcher adds (observations are informative; an
 * unknown field can't make the reader act wrongly).
 *
 * Example (pod):
 *   key   eu-1/mimir/mimir-ingester-zone-a-0
 *   value { "v": 1, "type": "cluster.pod", "cluster": "eu-1", "namespace": "mimir",
 *           "name": "mimir-ingester-zone-a-0", "uid": "5f1e...", "workload": "mimir-ingester-zone-a",
 *           "component": "ingester", "zone": "zone-a", "revision": "mimir-ingester-zone-a-5d9c7",
 *           "ready": true, "readySince": 1735689610000, "resourceVersion": "48213",
 *           "observedAt": 1735689611000 }
 */
import { z } from 'zod';
import type { PodObs, TargetRef, WorkloadObs } from '@ringmaster/rollout-core';
import {
  ClusterNameSchema,
  ComponentNameSchema,
  EpochMsSchema,
  NamespaceSchema,
  NonEmptyString,
  ObjectNameSchema,
  assertType,
  envelope,
  type Mutual,
} from './common.schema';
import { parseCompacted, type ParseResult } from './message.parser';
import { clusterObjectKey, parseClusterObjectKey } from './topics.constants';

export const POD_STATE_TYPE = 'cluster.pod';
export const WORKLOAD_STATE_TYPE = 'cluster.workload';

const Count = z.number().int().nonnegative();

const PodObsShape = {
  name: ObjectNameSchema,
  uid: NonEmptyString,
  workload: NonEmptyString.max(253),
  component: ComponentNameSchema,
  zone: z.string().min(1).optional(),
  /** May be empty for a pod no controller owns. */
  revision: z.string(),
  ready: z.boolean(),
  readySince: EpochMsSchema.optional(),
  terminating: z.boolean().optional(),
  probe: z.enum(['ok', 'failing', 'unknown']).optional(),
};
assertType<Mutual<z.output<z.ZodObject<typeof PodObsShape>>, PodObs>>();

const WorkloadObsShape = {
  name: ObjectNameSchema,
  kind: z.enum(['StatefulSet', 'Deployment']),
  component: ComponentNameSchema,
  zone: z.string().min(1).optional(),
  updateStrategy: z.enum(['OnDelete', 'RollingUpdate']),
  replicas: Count,
  generation: Count,
  observedGeneration: Count,
  updateRevision: z.string(),
  statusReplicas: Count,
  readyReplicas: Count,
  availableReplicas: Count,
  updatedReplicas: Count,
  replicationFactor: z.number().int().min(1).optional(),
  maxUnavailablePerZone: z.number().int().min(1).optional(),
  paused: z.boolean().optional(),
};
assertType<Mutual<z.output<z.ZodObject<typeof WorkloadObsShape>>, WorkloadObs>>();

const where = {
  cluster: ClusterNameSchema,
  namespace: NamespaceSchema,
  /** metadata.resourceVersion of the object; order of observations: see isNewerObservation. */
  resourceVersion: z.string(),
  observedAt: EpochMsSchema,
};

export const PodStateMessageSchema = z.object({
  ...envelope(POD_STATE_TYPE),
  ...where,
  ...PodObsShape,
});
export type PodStateMessage = z.output<typeof PodStateMessageSchema>;

export const WorkloadStateMessageSchema = z.object({
  ...envelope(WORKLOAD_STATE_TYPE),
  ...where,
  ...WorkloadObsShape,
});
export type WorkloadStateMessage = z.output<typeof WorkloadStateMessageSchema>;

export interface ObservationMeta {
  resourceVersion: string;
  observedAt: number;
}

export function toPodStateMessage(
  target: TargetRef,
  pod: PodObs,
  meta: ObservationMeta,
): PodStateMessage {
  return {
    v: 1,
    type: POD_STATE_TYPE,
    cluster: target.cluster,
    namespace: target.namespace,
    ...pod,
    ...meta,
  };
}

export function toWorkloadStateMessage(
  target: TargetRef,
  workload: WorkloadObs,
  meta: ObservationMeta,
): WorkloadStateMessage {
  return {
    v: 1,
    type: WORKLOAD_STATE_TYPE,
    cluster: target.cluster,
    namespace: target.namespace,
    ...workload,
    ...meta,
  };
}

/** Message -> where it is and the core's PodObs (envelope and metadata dropped). */
export function fromPodStateMessage(m: PodStateMessage): {
  target: TargetRef;
  pod: PodObs;
  meta: ObservationMeta;
} {
  const { v: _v, type: _t, cluster, namespace, resourceVersion, observedAt, ...pod } = m;
  return { target: { cluster, namespace }, pod, meta: { resourceVersion, observedAt } };
}

export function fromWorkloadStateMessage(m: WorkloadStateMessage): {
  target: TargetRef;
  workload: WorkloadObs;
  meta: ObservationMeta;
} {
  const { v: _v, type: _t, cluster, namespace, resourceVersion, observedAt, ...workload } = m;
  return { target: { cluster, namespace }, workload, meta: { resourceVersion, observedAt } };
}

/**
 * Whether observation `next` of a key replaces `held`. The higher resourceVersion wins; with
 * the same resourceVersion the later `observedAt` wins, because the health watcher re-publishes
 * an object that did not change in Kubernetes when something it derives did: a pod's `/ready`
 * probe result, a Deployment's updateRevision after a new ReplicaSet. resourceVersions are
 * compared as integers when both are (every etcd-backed API server issues integers), otherwise
 * only for equality (a different one counts as newer). A duplicate (same both) is not newer.
 *
 *   isNewerObservation({ resourceVersion: '10', observedAt: 1 }, { resourceVersion: '9', observedAt: 5 })  === true
 *   isNewerObservation({ resourceVersion: '9', observedAt: 9 }, { resourceVersion: '10', observedAt: 5 })  === false
 *   isNewerObservation({ resourceVersion: '10', observedAt: 6 }, { resourceVersion: '10', observedAt: 5 }) === true
 *   isNewerObservation({ resourceVersion: '10', observedAt: 5 }, { resourceVersion: '10', observedAt: 5 }) === false
 */
export function isNewerObservation(
  next: ObservationMeta,
  held: ObservationMeta | undefined,
): boolean {
  if (held === undefined) return true;
  const a = next.resourceVersion;
  const b = held.resourceVersion;
  if (a !== b) return /^\d+$/.test(a) && /^\d+$/.test(b) ? BigInt(a) > BigInt(b) : true;
  return next.observedAt > held.observedAt;
}

/** Kafka key of a pod or workload observation: `cluster/namespace/name`. */
export function clusterStateKey(m: { cluster: string; namespace: string; name: string }): string {
  return clusterObjectKey(m.cluster, m.namespace, m.name);
}

/**
 * What a reader of `cluster.pods` / `cluster.workloads` accepts: parseCompacted (a null value
 * is a tombstone), and a key that is `cluster/namespace/name`, of the value when there is one.
 * Compaction keeps the last value per key: an observation under another key would outlive its
 * object's tombstone, or overwrite the object's real observation in a reader's view while the
 * watcher's later messages (under the right key) no longer replace it.
 *
 *   parseClusterState(PodStateMessageSchema, 'eu-1/mimir/other-pod', podOfIngester0)
 *     -> { ok: false, reason: 'key: "eu-1/mimir/other-pod" is not the value\'s cluster/namespace/name "eu-1/mimir/ingester-0"' }
 */
export function parseClusterState<
  S extends typeof PodStateMessageSchema | typeof WorkloadStateMessageSchema,
>(
  schema: S,
  key: string | null | undefined,
  raw: Buffer | string | null | undefined,
): ParseResult<z.output<S> | null> {
  const r = parseCompacted(schema, raw);
  if (!r.ok) return r;
  if (key === null || key === undefined || key.length === 0)
    return { ok: false, reason: 'key: missing (must be "cluster/namespace/name")' };
  const shown = JSON.stringify(key.length > 300 ? `${key.slice(0, 300)}…` : key);
  if (r.value === null) {
    if (!parseClusterObjectKey(key))
      return {
        ok: false,
        reason: `key: ${shown} of a tombstone is not "cluster/namespace/name"`,
      };
    return r;
  }
  const expected = clusterStateKey(r.value as { cluster: string; namespace: string; name: string });
  if (key !== expected)
    return {
      ok: false,
      reason: `key: ${shown} is not the value's cluster/namespace/name ${JSON.stringify(expected)}`,
    };
  return r;
}
