/**
 * V1Pod -> the core's PodObs. Pure.
 *
 * Worked example (an ingester pod as the mimir-distributed chart lays it out):
 *
 *   metadata: name mimir-ingester-zone-a-0, uid u1,
 *             labels { app.kubernetes.io/component: ingester, rollout-group: ingester,
 *                      zone: zone-a, controller-revision-hash: mimir-ingester-zone-a-5d9c7 },
 *             ownerReferences [{ kind: StatefulSet, name: mimir-ingester-zone-a, controller: true }]
 *   status:   conditions [{ type: Ready, status: 'True', lastTransitionTime: 2025-01-01T00:00:10Z }]
 *   ->
 *   { name: 'mimir-ingester-zone-a-0', uid: 'u1', workload: 'mimir-ingester-zone-a',
 *     component: 'ingester', zone: 'zone-a', revision: 'mimir-ingester-zone-a-5d9c7',
 *     ready: true, readySince: 1735689610000 }
 *
 * A Deployment pod (owner ReplicaSet `mimir-querier-7f9d8b6c5`, label pod-template-hash
 * `7f9d8b6c5`) belongs to workload `mimir-querier` and has revision `7f9d8b6c5`.
 * The same tables are in pod-state.mapper.spec.ts.
 */
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { PodObs } from '@ringmaster/rollout-core';
import { type ComponentOverrides, resolveComponent, toEpochMs } from './component.resolver';
import {
  ANNOTATION_READY_PROBE,
  LABEL_CONTROLLER_REVISION,
  LABEL_NAME,
  LABEL_POD_TEMPLATE_HASH,
  LABEL_ZONE,
} from '@ringmaster/contracts';

export interface PodMapOptions {
  /** node name -> zone (`topology.kubernetes.io/zone` of the node), for pods without a `zone` label. */
  nodeZones?: ReadonlyMap<string, string>;
  /** workload name -> component, for layouts whose labels say nothing useful. */
  componentOverrides?: ComponentOverrides;
}

/** What the health watcher needs beyond PodObs: where the pod is, and how to probe it. */
export interface PodDetails {
  namespace: string;
  phase?: string;
  nodeName?: string;
  podIP?: string;
  /** `ringmaster.dev/ready-probe` of the pod, e.g. `8080/ready`. */
  readyProbe?: string;
  /** resourceVersion of the object the observation came from. */
  resourceVersion?: string;
}

function controllerOf(pod: V1Pod): V1OwnerReference | undefined {
  const owners = pod.metadata?.ownerReferences ?? [];
  return owners.find((o) => o.controller) ?? owners[0];
}

/**
 * The workload a pod belongs to: its StatefulSet, or the Deployment behind its ReplicaSet.
 *
 * A ReplicaSet made by a Deployment is named `<deployment>-<pod-template-hash>`, so stripping
 * the hash gives the Deployment. A ReplicaSet not named that way (created by hand) is the
 * workload itself unless the pod's `name` label says otherwise; an ownerless pod falls back to
 * its `name` label, then its own name.
 */
export function workloadOfPod(pod: V1Pod): string {
  const labels = pod.metadata?.labels ?? {};
  const owner = controllerOf(pod);
  if (owner?.kind === 'ReplicaSet') {
    const hash = labels[LABEL_POD_TEMPLATE_HASH];
    if (hash && owner.name.endsWith(`-${hash}`)) return owner.name.slice(0, -(hash.length + 1));
    return labels[LABEL_NAME] || owner.name;
  }
  if (owner) return owner.name;
  return labels[LABEL_NAME] || pod.metadata?.name || '';
}

/** The Ready condition is True and the pod is not being deleted. */
export function isPodReady(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  return readyCondition(pod)?.status === 'True';
}

function readyCondition(pod: V1Pod) {
  return pod.status?.conditions?.find((c) => c.type === 'Ready');
}

export function toPodObs(pod: V1Pod, opts: PodMapOptions = {}): PodObs {
  const meta = pod.metadata ?? {};
  const labels = meta.labels ?? {};
  const workload = workloadOfPod(pod);
  const ready = isPodReady(pod);
  const zone =
    labels[LABEL_ZONE] || (pod.spec?.nodeName ? opts.nodeZones?.get(pod.spec.nodeName) : undefined);
  const readySince = ready
    ? toEpochMs(readyCondition(pod)?.lastTransitionTime as Date | string | undefined)
    : undefined;
  const obs: PodObs = {
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    workload,
    component: resolveComponent(workload, labels, meta.annotations, opts.componentOverrides),
    revision: labels[LABEL_CONTROLLER_REVISION] || labels[LABEL_POD_TEMPLATE_HASH] || '',
    ready,
  };
  if (zone) obs.zone = zone;
  if (readySince !== undefined) obs.readySince = readySince;
  if (meta.deletionTimestamp) obs.terminating = true;
  return obs;
}

export function podDetails(pod: V1Pod): PodDetails {
  const d: PodDetails = { namespace: pod.metadata?.namespace ?? '' };
  if (pod.status?.phase) d.phase = pod.status.phase;
  if (pod.spec?.nodeName) d.nodeName = pod.spec.nodeName;
  if (pod.status?.podIP) d.podIP = pod.status.podIP;
  const probe = pod.metadata?.annotations?.[ANNOTATION_READY_PROBE];
  if (probe) d.readyProbe = probe;
  if (pod.metadata?.resourceVersion) d.resourceVersion = pod.metadata.resourceVersion;
  return d;
}
