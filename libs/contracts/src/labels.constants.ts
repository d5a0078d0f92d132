/**
 * Every Kubernetes label and annotation key Ringmaster reads or writes, in one place.
 *
 * Read keys follow the mimir-distributed Helm chart (and Mimir's jsonnet), e.g. the ingester
 * StatefulSet of zone a carries `name: ingester-zone-a`, `rollout-group: ingester`,
 * `zone: zone-a`, `app.kubernetes.io/component: ingester`.
 */

/** Instance's workload name, e.g. `ingester-zone-a` (chart and jsonnet). */
export const LABEL_NAME = 'name';
/** Group of workloads rolled together, e.g. `ingester` for ingester-zone-a/b/c. */
export const LABEL_ROLLOUT_GROUP = 'rollout-group';
/** Zone of a zone-aware workload, e.g. `zone-a`. */
export const LABEL_ZONE = 'zone';
/** Mimir component, e.g. `ingester`, `querier`, `all` (monolithic). */
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
/** Application name: `mimir` for every Mimir workload. */
export const LABEL_APP_NAME = 'app.kubernetes.io/name';
/** Helm release. */
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
/** Node zone (well-known label) used when a pod carries no `zone` label. */
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
/** StatefulSet pods: the revision a pod was created from. */
export const LABEL_CONTROLLER_REVISION = 'controller-revision-hash';
/** Deployment pods: the ReplicaSet template hash. */
export const LABEL_POD_TEMPLATE_HASH = 'pod-template-hash';

/** Chart annotation on zoned StatefulSets: max pods of one zone restarted at once. */
export const ANNOTATION_ROLLOUT_MAX_UNAVAILABLE = 'rollout-max-unavailable';
/** Ringmaster's own: replication factor of the component, where it differs from Mimir's 3. */
export const ANNOTATION_REPLICATION_FACTOR = 'ringmaster.dev/replication-factor';
/** Ringmaster's own: override the component a workload belongs to (other layouts). */
export const ANNOTATION_COMPONENT_OVERRIDE = 'ringmaster.dev/component';
/** Ringmaster's own: port and path probed for `GET /ready` (monolithic), e.g. `8080/ready`. */
export const ANNOTATION_READY_PROBE = 'ringmaster.dev/ready-probe';
/** Written on the pod template by a restart change (like `kubectl rollout restart`): rollout id. */
export const ANNOTATION_RESTARTED_BY = 'ringmaster.dev/restarted-by';
/** Written on the workload: the rollout that last changed it (audit). */
export const ANNOTATION_ROLLOUT_ID = 'ringmaster.dev/rollout-id';

/** Test fixtures and kwok fault stages: pod annotation selecting an injected fault. */
export const ANNOTATION_FAULT = 'ringmaster.dev/fault';
export const FAULTS = ['never-ready', 'crash-loop', 'slow-ready'] as const;
export type Fault = (typeof FAULTS)[number];

/** Deployment controller: revision number on a Deployment and its ReplicaSets (newest = highest). */
export const ANNOTATION_DEPLOYMENT_REVISION = 'deployment.kubernetes.io/revision';
