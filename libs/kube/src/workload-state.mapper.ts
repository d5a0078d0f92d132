/**
 * V1StatefulSet / V1Deployment -> the core's WorkloadObs. Pure.
 *
 * Worked example (the chart's zoned ingester set, 2 replicas, one pod already updated):
 *
 *   metadata: name mimir-ingester-zone-a, generation 4,
 *             labels { rollout-group: ingester, zone: zone-a },
 *             annotations { rollout-max-unavailable: '50' }
 *   spec:     replicas 2, updateStrategy { type: OnDelete }
 *   status:   observedGeneration 4, replicas 2, readyReplicas 1, availableReplicas 1,
 *             updatedReplicas 1, updateRevision mimir-ingester-zone-a-6b8f9
 *   ->
 *   { name: 'mimir-ingester-zone-a', kind: 'StatefulSet', component: 'ingester', zone: 'zone-a',
 *     updateStrategy: 'OnDelete', replicas: 2, generation: 4, observedGeneration: 4,
 *     updateRevision: 'mimir-ingester-zone-a-6b8f9', statusReplicas: 2, readyReplicas: 1,
 *     availableReplicas: 1, updatedReplicas: 1, maxUnavailablePerZone: 50 }
 *
 * Deployments have no update revision in their status. Their revision is the
 * pod-template-hash of their newest ReplicaSet (highest `deployment.kubernetes.io/revision`)
 * when the caller passes the ReplicaSets, else `gen-<metadata.generation>`. Either way the
 * core judges a Deployment roll by observedGeneration and the updated/available counts, not by
 * this string. The same tables are in workload-state.mapper.spec.ts.
 */
import type {
  V1Deployment,
  V1ObjectMeta,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { UpdateStrategy, WorkloadKind, WorkloadObs } from '@ringmaster/rollout-core';
import { type ComponentOverrides, parseCount, resolveComponent } from './component.resolver';
import {
  ANNOTATION_COMPONENT_OVERRIDE,
  ANNOTATION_DEPLOYMENT_REVISION,
  ANNOTATION_REPLICATION_FACTOR,
  ANNOTATION_ROLLOUT_MAX_UNAVAILABLE,
  LABEL_POD_TEMPLATE_HASH,
  LABEL_ZONE,
} from '@ringmaster/contracts';

export interface WorkloadMapOptions {
  componentOverrides?: ComponentOverrides;
  /**
   * Deployments: ReplicaSets of the namespace (any; those owned by the Deployment are picked by
   * owner uid), to report the newest one's pod-template-hash as the update revision.
   */
  replicaSets?: readonly V1ReplicaSet[];
}

/**
 * Labels and annotations that say what a workload is: the workload's own win over its pod
 * template's (an operator annotating the StatefulSet expects that to count).
 */
function identity(meta: V1ObjectMeta | undefined, template: V1PodTemplateSpec | undefined) {
  const labels = { ...(template?.metadata?.labels ?? {}), ...(meta?.labels ?? {}) };
  const annotations: Record<string, string> = {};
  const tplOverride = template?.metadata?.annotations?.[ANNOTATION_COMPONENT_OVERRIDE];
  if (tplOverride) annotations[ANNOTATION_COMPONENT_OVERRIDE] = tplOverride;
  Object.assign(annotations, meta?.annotations ?? {});
  return { labels, annotations };
}

function common(
  kind: WorkloadKind,
  meta: V1ObjectMeta | undefined,
  template: V1PodTemplateSpec | undefined,
  replicas: number,
  opts: WorkloadMapOptions,
): Pick<
  WorkloadObs,
  | 'name'
  | 'kind'
  | 'component'
  | 'zone'
  | 'replicas'
  | 'generation'
  | 'replicationFactor'
  | 'maxUnavailablePerZone'
> {
  const name = meta?.name ?? '';
  const { labels, annotations } = identity(meta, template);
  const out: ReturnType<typeof common> = {
    name,
    kind,
    component: resolveComponent(name, labels, annotations, opts.componentOverrides),
    replicas,
    generation: meta?.generation ?? 0,
  };
  const zone = labels[LABEL_ZONE];
  if (zone) out.zone = zone;
  const rf = parseCount(meta?.annotations?.[ANNOTATION_REPLICATION_FACTOR]);
  if (rf !== undefined) out.replicationFactor = rf;
  // rollout-operator reads an integer; a percentage of the set's replicas is accepted too.
  const perZone = parseCount(meta?.annotations?.[ANNOTATION_ROLLOUT_MAX_UNAVAILABLE], replicas);
  if (perZone !== undefined) out.maxUnavailablePerZone = perZone;
  return out;
}

export function statefulSetToWorkloadObs(
  sts: V1StatefulSet,
  opts: WorkloadMapOptions = {},
): WorkloadObs {
  const replicas = sts.spec?.replicas ?? 1;
  const st = sts.status;
  // The API defaults updateStrategy to RollingUpdate; only OnDelete leaves the pace to us.
  const updateStrategy: UpdateStrategy =
    sts.spec?.updateStrategy?.type === 'OnDelete' ? 'OnDelete' : 'RollingUpdate';
  return {
    ...common('StatefulSet', sts.metadata, sts.spec?.template, replicas, opts),
    updateStrategy,
    observedGeneration: st?.observedGeneration ?? 0,
    updateRevision: st?.updateRevision ?? '',
    statusReplicas: st?.replicas ?? 0,
    readyReplicas: st?.readyReplicas ?? 0,
    availableReplicas: st?.availableReplicas ?? 0,
    updatedReplicas: st?.updatedReplicas ?? 0,
  };
}

/** The pod-template-hash of the Deployment's newest ReplicaSet, if any is given. */
export function deploymentRevision(
  d: V1Deployment,
  replicaSets: readonly V1ReplicaSet[] = [],
): string | undefined {
  const uid = d.metadata?.uid;
  let best: { rev: number; hash: string } | undefined;
  for (const rs of replicaSets) {
    const owned = (rs.metadata?.ownerReferences ?? []).some(
      (o) => o.kind === 'Deployment' && (uid ? o.uid === uid : o.name === d.metadata?.name),
    );
    if (!owned) continue;
    const rev = Number(rs.metadata?.annotations?.[ANNOTATION_DEPLOYMENT_REVISION] ?? NaN);
    const hash =
      rs.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH] ??
      rs.spec?.template?.metadata?.labels?.[LABEL_POD_TEMPLATE_HASH];
    if (!hash || !Number.isFinite(rev)) continue;
    if (!best || rev > best.rev) best = { rev, hash };
  }
  return best?.hash;
}

export function deploymentToWorkloadObs(
  d: V1Deployment,
  opts: WorkloadMapOptions = {},
): WorkloadObs {
  const replicas = d.spec?.replicas ?? 1;
  const st = d.status;
  const base = common('Deployment', d.metadata, d.spec?.template, replicas, opts);
  return {
    ...base,
    // Recreate also restarts at the controller's pace: for the core it is not OnDelete.
    updateStrategy: 'RollingUpdate',
    observedGeneration: st?.observedGeneration ?? 0,
    updateRevision: deploymentRevision(d, opts.replicaSets) ?? `gen-${base.generation}`,
    statusReplicas: st?.replicas ?? 0,
    readyReplicas: st?.readyReplicas ?? 0,
    availableReplicas: st?.availableReplicas ?? 0,
    updatedReplicas: st?.updatedReplicas ?? 0,
    paused: d.spec?.paused ?? false,
  };
}

/** Dispatch on an explicit kind (items of a typed list call carry no `kind`). */
export function toWorkloadObs(
  kind: WorkloadKind,
  obj: V1StatefulSet | V1Deployment,
  opts: WorkloadMapOptions = {},
): WorkloadObs {
  return kind === 'StatefulSet'
    ? statefulSetToWorkloadObs(obj as V1StatefulSet, opts)
    : deploymentToWorkloadObs(obj as V1Deployment, opts);
}
