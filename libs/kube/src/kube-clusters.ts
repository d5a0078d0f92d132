/**
 * The per-cluster client set and the registry type the adapters take. Type-only imports of
 * client-node here, so pure code and unit tests can name clusters without loading the client.
 * Built by loadClusters() (kube-clients.factory.ts).
 */
import type { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import { KubePermanentError } from './kube.errors';

export interface KubeClusterClients {
  /** Ringmaster's name for the cluster (the key of the map; `TargetRef.cluster`). */
  name: string;
  /** kubeconfig context the clients are pinned to. */
  context: string;
  /** API server URL, for logs. */
  server: string;
  /** This cluster's own KubeConfig (current context = `context`); never shared. */
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  policy: PolicyV1Api;
}

/** Cluster name -> its clients. */
export type KubeClusters = ReadonlyMap<string, KubeClusterClients>;

/** The clients of `cluster`, or a permanent error naming the known clusters. */
export function clientsFor(clusters: KubeClusters, cluster: string): KubeClusterClients {
  const c = clusters.get(cluster);
  if (!c) {
    throw new KubePermanentError(
      `unknown cluster "${cluster}"; configured: ${[...clusters.keys()].join(', ') || 'none'}`,
      undefined,
      'UnknownCluster',
    );
  }
  return c;
}
