/**
 * One set of API clients per Kubernetes cluster.
 *
 * Why one KubeConfig per cluster: client-node fixes the server URL when `makeApiClient` is
 * called, but reads auth and TLS from the KubeConfig's *current context* on every request. Two
 * clusters sharing one KubeConfig would send cluster A's token to cluster B the moment someone
 * switches the context. So each cluster gets its own KubeConfig, loaded from the file and
 * pinned to its context, and its clients are made from that object only.
 *
 * Cluster names: the context name by default; `name=context` in the list (or `names`) gives a
 * cluster a name of its own, e.g. `eu-1=gke_acme_europe-west1_prod` -> cluster `eu-1`.
 *
 *   loadClusters({ contexts: ['kwok-ringmaster-1', 'kwok-ringmaster-2'] })
 *     -> Map { 'kwok-ringmaster-1' => {...}, 'kwok-ringmaster-2' => {...} }
 *   loadClusters({ kubeconfigPath: '/tmp/kc.yaml', contexts: ['a=kwok-ringmaster-1'] })
 *     -> Map { 'a' => { context: 'kwok-ringmaster-1', ... } }
 */
import { AppsV1Api, CoreV1Api, KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import { parseContextEntry } from './context-list.parser';
import type { KubeClusterClients } from './kube-clusters';
import { KubePermanentError } from './kube.errors';

export interface LoadClustersOptions {
  /**
   * kubeconfig file. Default: client-node's default lookup (`$KUBECONFIG`, which may list
   * several files separated by ':', then `~/.kube/config`, then in-cluster).
   */
  kubeconfigPath?: string;
  /**
   * Contexts to load, each `context` or `name=context`. Empty: the kubeconfig's current
   * context only.
   */
  contexts: string[];
  /** context -> cluster name, for contexts listed without `name=`. */
  names?: Record<string, string>;
}

function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromDefault();
  return kc;
}

/**
 * Loads one KubeConfig per context (each read from the file afresh, so no two clusters share
 * an object) and makes its clients. Fails fast, naming the context, when a context is missing
 * or a cluster name repeats.
 */
export function loadClusters(opts: LoadClustersOptions): Map<string, KubeClusterClients> {
  const entries = opts.contexts.length
    ? opts.contexts.map((c) => parseContextEntry(c, opts.names))
    : [
        (() => {
          const ctx = loadKubeConfig(opts.kubeconfigPath).getCurrentContext();
          return { name: opts.names?.[ctx] ?? ctx, context: ctx };
        })(),
      ];
  const out = new Map<string, KubeClusterClients>();
  for (const { name, context } of entries) {
    if (out.has(name))
      throw new KubePermanentError(
        `cluster name "${name}" is given twice (contexts: ${opts.contexts.join(', ')})`,
      );
    const kc = loadKubeConfig(opts.kubeconfigPath);
    if (!kc.getContextObject(context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubePermanentError(
        `kubeconfig${opts.kubeconfigPath ? ` ${opts.kubeconfigPath}` : ''} has no context "${context}" (cluster "${name}"); known: ${known.join(', ') || 'none'}`,
        undefined,
        'ContextNotFound',
      );
    }
    kc.setCurrentContext(context);
    const server = kc.getCurrentCluster()?.server;
    if (!server)
      throw new KubePermanentError(
        `context "${context}" names no cluster with a server URL`,
        undefined,
        'ContextNotFound',
      );
    out.set(name, {
      name,
      context,
      server,
      kc,
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      policy: kc.makeApiClient(PolicyV1Api),
    });
  }
  return out;
}
