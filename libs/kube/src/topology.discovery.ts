/**
 * What Mimir looks like in one namespace: its workloads, its pods, its components, and
 * whether it runs monolithic or as microservices.
 *
 * Discovery lists StatefulSets, Deployments, ReplicaSets and Pods carrying the selector
 * (default `app.kubernetes.io/name=mimir`, as the chart and jsonnet label everything) and maps
 * them with the state mappers. Other layouts: pass `componentOverrides` (workload name ->
 * component), or annotate workloads with `ringmaster.dev/component`.
 *
 * Mode: monolithic when some workload runs every module (component `all`, `monolithic` or
 * `mimir`) and none runs a module that `all` would contain (ingester, distributor, querier,
 * store-gateway, compactor, query-frontend, query-scheduler, ruler); microservices otherwise.
 * A gateway or alertmanager beside a monolithic set keeps it monolithic.
 *
 * Worked example, the fixture `mimir-mono` (StatefulSet `mimir`, component `all`, 3 pods):
 *   { mode: 'monolithic', components: ['all'], workloads: [mimir], pods: [mimir-0, mimir-1, mimir-2] }
 * and `mimir` (microservices, small): 14 workloads, 26 pods, components
 *   alertmanager, compactor, distributor, gateway, ingester, querier, query-frontend,
 *   query-scheduler, ruler, store-gateway.
 */
import type {
  V1Deployment,
  V1Node,
  V1Pod,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import {
  type DeploymentMode,
  type ObservedTarget,
  type PodObs,
  type WorkloadObs,
  podOrder,
} from '@ringmaster/rollout-core';
import type { ComponentOverrides } from './component.resolver';
import { type KubeClusters, clientsFor } from './kube-clusters';
import {
  DEFAULT_CALL_TIMEOUT_MS,
  KubePermanentError,
  classifyKubeError,
  describe,
  rethrowIfRetriable,
  withTimeout,
} from './kube.errors';
import { LABEL_APP_NAME, LABEL_TOPOLOGY_ZONE, LABEL_ZONE } from '@ringmaster/contracts';
import { toPodObs } from './pod-state.mapper';
import { deploymentToWorkloadObs, statefulSetToWorkloadObs } from './workload-state.mapper';

export const DEFAULT_MIMIR_SELECTOR = `${LABEL_APP_NAME}=mimir`;

const MONOLITHIC_COMPONENTS = new Set(['all', 'monolithic', 'mimir']);
/** Modules `-target=all` runs: seeing one as its own workload means microservices. */
const MODULES_OF_ALL = new Set([
  'ingester',
  'distributor',
  'querier',
  'store-gateway',
  'compactor',
  'query-frontend',
  'query-scheduler',
  'ruler',
]);

export interface DiscoverOptions {
  /** Label selector of Mimir's objects. Default `app.kubernetes.io/name=mimir`. */
  labelSelector?: string;
  /** workload name -> component, for layouts whose labels say nothing useful. */
  componentOverrides?: ComponentOverrides;
  /** Force the mode instead of inferring it. */
  mode?: DeploymentMode;
  /** Bound on each list call; past it: KubeRetriableError. Default 30 s. */
  callTimeoutMs?: number;
}

export interface Topology {
  cluster: string;
  namespace: string;
  mode: DeploymentMode;
  /** Sorted by component, zone, name. */
  workloads: WorkloadObs[];
  /** Pods of those workloads only, in the core's order (zone, workload, ordinal). */
  pods: PodObs[];
  /** Sorted, unique. */
  components: string[];
  /** Things worth a log line: pods matching the selector that belong to no workload found, nodes not readable. */
  warnings: string[];
}

export interface TopologyInput {
  statefulSets: readonly V1StatefulSet[];
  deployments: readonly V1Deployment[];
  replicaSets?: readonly V1ReplicaSet[];
  pods: readonly V1Pod[];
  /** Nodes, for the zone of pods without a `zone` label. */
  nodes?: readonly V1Node[];
}

export function detectMode(components: readonly string[]): DeploymentMode {
  const mono = components.some((c) => MONOLITHIC_COMPONENTS.has(c));
  const split = components.some((c) => MODULES_OF_ALL.has(c));
  return mono && !split ? 'monolithic' : 'microservices';
}

/** Builds the topology from listed objects. Pure (unit-tested with chart-shaped objects). */
export function assembleTopology(
  input: TopologyInput,
  opts: DiscoverOptions = {},
): Omit<Topology, 'cluster' | 'namespace'> {
  const overrides = opts.componentOverrides;
  const workloads = [
    ...input.statefulSets.map((s) =>
      statefulSetToWorkloadObs(s, { componentOverrides: overrides }),
    ),
    ...input.deployments.map((d) =>
      deploymentToWorkloadObs(d, { componentOverrides: overrides, replicaSets: input.replicaSets }),
    ),
  ].sort(
    (a, b) =>
      cmp(a.component, b.component) || cmp(a.zone ?? '', b.zone ?? '') || cmp(a.name, b.name),
  );
  const byName = new Map(workloads.map((w) => [w.name, w]));
  const nodeZones = new Map<string, string>();
  for (const n of input.nodes ?? []) {
    const z = n.metadata?.labels?.[LABEL_TOPOLOGY_ZONE];
    if (n.metadata?.name && z) nodeZones.set(n.metadata.name, z);
  }
  const warnings: string[] = [];
  const pods: PodObs[] = [];
  for (const p of input.pods) {
    const obs = toPodObs(p, { nodeZones, componentOverrides: overrides });
    const w = byName.get(obs.workload);
    if (!w) {
      warnings.push(
        `pod ${obs.name} matches the selector but belongs to no StatefulSet/Deployment found (workload "${obs.workload}"); ignored`,
      );
      continue;
    }
    // A pod is the component of its workload: a template relabelled mid-rollout must not
    // split a component in two.
    obs.component = w.component;
    if (!obs.zone && w.zone) obs.zone = w.zone;
    pods.push(obs);
  }
  pods.sort(podOrder);
  const components = [...new Set(workloads.map((w) => w.component))].sort();
  return { mode: opts.mode ?? detectMode(components), workloads, pods, components, warnings };
}

/** The core's indexed view of a topology: workloads by name, pods by component and name. */
export function toObservedTarget(t: Pick<Topology, 'workloads' | 'pods'>): ObservedTarget {
  const out: ObservedTarget = { workloads: {}, pods: {} };
  for (const w of t.workloads) out.workloads[w.name] = w;
  for (const p of t.pods) (out.pods[p.component] ??= {})[p.name] = p;
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class TopologyDiscovery {
  constructor(
    private readonly clusters: KubeClusters,
    private readonly defaults: DiscoverOptions = {},
  ) {}

  /**
   * Lists and maps Mimir in `cluster`/`namespace`. Throws KubeRetriableError on transient
   * API failures and KubePermanentError (unknown cluster, forbidden) otherwise.
   */
  async discover(
    cluster: string,
    namespace: string,
    options: DiscoverOptions = {},
  ): Promise<Topology> {
    const opts = { ...this.defaults, ...options };
    const { core, apps } = clientsFor(this.clusters, cluster);
    const labelSelector = opts.labelSelector ?? DEFAULT_MIMIR_SELECTOR;
    const what = `discover ${cluster}/${namespace}`;
    let statefulSets: V1StatefulSet[],
      deployments: V1Deployment[],
      replicaSets: V1ReplicaSet[],
      pods: V1Pod[];
    try {
      const ms = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
      [statefulSets, deployments, replicaSets, pods] = await Promise.all([
        withTimeout(
          apps.listNamespacedStatefulSet({ namespace, labelSelector }),
          ms,
          'list StatefulSets',
        ).then((l) => l.items),
        withTimeout(
          apps.listNamespacedDeployment({ namespace, labelSelector }),
          ms,
          'list Deployments',
        ).then((l) => l.items),
        withTimeout(
          apps.listNamespacedReplicaSet({ namespace, labelSelector }),
          ms,
          'list ReplicaSets',
        ).then((l) => l.items),
        withTimeout(core.listNamespacedPod({ namespace, labelSelector }), ms, 'list Pods').then(
          (l) => l.items,
        ),
      ]);
    } catch (err) {
      const c = rethrowIfRetriable(err, what);
      throw new KubePermanentError(`${what}: ${describe(c)}`, c.status, c.reason, err);
    }
    const warnings: string[] = [];
    let nodes: V1Node[] | undefined;
    // Only when some pod has no zone label: nodes are cluster-scoped, a namespaced role may
    // not read them, and the chart labels zoned pods anyway.
    if (pods.some((p) => !p.metadata?.labels?.[LABEL_ZONE] && p.spec?.nodeName)) {
      try {
        nodes = (
          await withTimeout(
            core.listNode({}),
            opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
            'list Nodes',
          )
        ).items;
      } catch (err) {
        warnings.push(
          `nodes not readable, zones of unlabelled pods unknown: ${describe(classifyKubeError(err))}`,
        );
      }
    }
    const t = assembleTopology({ statefulSets, deployments, replicaSets, pods, nodes }, opts);
    return { cluster, namespace, ...t, warnings: [...warnings, ...t.warnings] };
  }
}
