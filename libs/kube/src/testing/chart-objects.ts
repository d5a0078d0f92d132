/**
 * Chart-shaped Kubernetes objects for table tests: what the mimir-distributed chart (and the
 * fixture in test/fixtures/mimir) renders, plus the status the controllers would write.
 * Plain JSON, as a watch stream delivers it (timestamps are strings).
 */
import type { V1Deployment, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';

export const T0 = '2025-01-01T00:00:00Z';
export const T0_MS = Date.parse(T0);

export function mimirLabels(
  component: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'mimir',
    'app.kubernetes.io/instance': 'mimir',
    'app.kubernetes.io/component': component,
    ...extra,
  };
}

/** The chart's zoned StatefulSet, e.g. zonedSts('ingester', 'zone-a', 2). */
export function zonedSts(
  component: string,
  zone: string,
  replicas: number,
  status: Partial<NonNullable<V1StatefulSet['status']>> = {},
): V1StatefulSet {
  const name = `mimir-${component}-${zone}`;
  const labels = mimirLabels(component, {
    name: `${component}-${zone}`,
    'rollout-group': component,
    zone,
  });
  return {
    metadata: {
      name,
      namespace: 'mimir',
      uid: `uid-${name}`,
      generation: 1,
      labels,
      annotations: { 'rollout-max-unavailable': '50' },
      resourceVersion: '100',
    },
    spec: {
      replicas,
      serviceName: `mimir-${component}-headless`,
      selector: { matchLabels: mimirLabels(component, { name: `${component}-${zone}` }) },
      updateStrategy: { type: 'OnDelete' },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: component, image: 'grafana/mimir:2.14.0' }] },
      },
    },
    status: {
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      updatedReplicas: replicas,
      observedGeneration: 1,
      currentRevision: `${name}-rev1`,
      updateRevision: `${name}-rev1`,
      ...status,
    },
  };
}

/** A non-zoned StatefulSet (alertmanager, compactor) or the monolithic `mimir` (component `all`). */
export function sts(
  component: string,
  replicas: number,
  opts: {
    name?: string;
    strategy?: 'OnDelete' | 'RollingUpdate';
    annotations?: Record<string, string>;
  } = {},
): V1StatefulSet {
  const name = opts.name ?? `mimir-${component}`;
  const labels = mimirLabels(component, { name: component === 'all' ? 'mimir' : component });
  return {
    metadata: {
      name,
      namespace: component === 'all' ? 'mimir-mono' : 'mimir',
      uid: `uid-${name}`,
      generation: 1,
      labels,
      annotations: opts.annotations ?? {},
      resourceVersion: '100',
    },
    spec: {
      replicas,
      serviceName: `${name}-headless`,
      selector: { matchLabels: mimirLabels(component) },
      updateStrategy:
        opts.strategy === 'RollingUpdate'
          ? { type: 'RollingUpdate', rollingUpdate: { partition: 0 } }
          : { type: opts.strategy ?? 'OnDelete' },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: component, image: 'grafana/mimir:2.14.0' }] },
      },
    },
    status: {
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      updatedReplicas: replicas,
      observedGeneration: 1,
      updateRevision: `${name}-rev1`,
    },
  };
}

/** The chart's stateless Deployment, e.g. deployment('querier', 2). */
export function deployment(component: string, replicas: number): V1Deployment {
  const name = `mimir-${component}`;
  const labels = mimirLabels(component, { name: component });
  return {
    metadata: {
      name,
      namespace: 'mimir',
      uid: `uid-${name}`,
      generation: 3,
      labels,
      resourceVersion: '100',
      annotations: { 'deployment.kubernetes.io/revision': '2' },
    },
    spec: {
      replicas,
      selector: { matchLabels: mimirLabels(component) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '15%', maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: component, image: 'grafana/mimir:2.14.0' }] },
      },
    },
    status: {
      replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      updatedReplicas: replicas,
      observedGeneration: 3,
    },
  };
}

export function replicaSet(d: V1Deployment, hash: string, revision: number): V1ReplicaSet {
  return {
    metadata: {
      name: `${d.metadata!.name}-${hash}`,
      namespace: d.metadata!.namespace,
      labels: { ...(d.spec!.template.metadata!.labels ?? {}), 'pod-template-hash': hash },
      annotations: { 'deployment.kubernetes.io/revision': String(revision) },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: d.metadata!.name!,
          uid: d.metadata!.uid!,
          controller: true,
        },
      ],
    },
    spec: { selector: d.spec!.selector, template: d.spec!.template },
  };
}

export interface PodOpts {
  ready?: boolean;
  readySince?: string;
  deleting?: boolean;
  nodeName?: string;
  uid?: string;
  revision?: string;
}

function podStatus(o: PodOpts): V1Pod['status'] {
  return {
    phase: 'Running',
    podIP: '10.0.0.1',
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: T0 as unknown as Date },
      {
        type: 'Ready',
        status: o.ready === false ? 'False' : 'True',
        lastTransitionTime: (o.readySince ?? T0) as unknown as Date,
      },
    ],
  };
}

/** Pod `ordinal` of a StatefulSet, with the labels the controller copies from the template. */
export function stsPod(set: V1StatefulSet, ordinal: number, o: PodOpts = {}): V1Pod {
  const name = `${set.metadata!.name}-${ordinal}`;
  return {
    metadata: {
      name,
      namespace: set.metadata!.namespace,
      uid: o.uid ?? `uid-${name}`,
      labels: {
        ...(set.spec!.template.metadata!.labels ?? {}),
        'controller-revision-hash': o.revision ?? set.status!.updateRevision!,
        'statefulset.kubernetes.io/pod-name': name,
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          name: set.metadata!.name!,
          uid: set.metadata!.uid!,
          controller: true,
        },
      ],
      ...(o.deleting ? { deletionTimestamp: T0 as unknown as Date } : {}),
    },
    spec: {
      nodeName: o.nodeName ?? 'kwok-zone-a-0',
      containers: set.spec!.template.spec!.containers,
    },
    status: podStatus(o),
  };
}

/** Pod `suffix` of a Deployment's ReplicaSet `hash`. */
export function deploymentPod(
  d: V1Deployment,
  hash: string,
  suffix: string,
  o: PodOpts = {},
): V1Pod {
  const rs = `${d.metadata!.name}-${hash}`;
  const name = `${rs}-${suffix}`;
  return {
    metadata: {
      name,
      namespace: d.metadata!.namespace,
      uid: o.uid ?? `uid-${name}`,
      labels: { ...(d.spec!.template.metadata!.labels ?? {}), 'pod-template-hash': hash },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `uid-${rs}`, controller: true },
      ],
      ...(o.deleting ? { deletionTimestamp: T0 as unknown as Date } : {}),
    },
    spec: {
      nodeName: o.nodeName ?? 'kwok-zone-b-0',
      containers: d.spec!.template.spec!.containers,
    },
    status: podStatus(o),
  };
}
