/**
 * How the integration tests of libs/kube find their clusters.
 *
 *   KUBECONFIG           kubeconfig file(s), ':'-separated. Default: the merged kubeconfig
 *                        `scripts/cluster.sh up` writes, ${RINGMASTER_STATE_DIR:-~/.cache/ringmaster/clusters}/kubeconfig.yaml
 *   RINGMASTER_CONTEXTS  comma-separated contexts (`name=context` allowed). Default: every
 *                        context of that kubeconfig (cluster.sh: kwok-ringmaster-1 .. -N).
 *
 * Every test creates its objects in namespaces of its own (`rk-<what>-<random>`), deleted
 * afterwards, so a shared cluster with the fixture in `mimir`/`mimir-mono` is left alone.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import { type KubeClusterClients, loadClusters, parseContextList } from '../src';
export { waitFor } from '../../../test/support/wait-for';

export const REPO_ROOT = join(__dirname, '..', '..', '..');

export function testKubeconfigPath(): string | undefined {
  if (process.env.KUBECONFIG) return undefined; // client-node's default lookup reads it
  const state =
    process.env.RINGMASTER_STATE_DIR ??
    join(process.env.RINGMASTER_CACHE ?? join(homedir(), '.cache', 'ringmaster'), 'clusters');
  return join(state, 'kubeconfig.yaml');
}

/** Loads the test clusters; fails with a message that says how to bring them up. */
export function loadTestClusters(): Map<string, KubeClusterClients> {
  const path = testKubeconfigPath();
  if (path && !existsSync(path)) {
    throw new Error(
      `no kubeconfig at ${path}: run 'scripts/cluster.sh up --clusters 2' (or set KUBECONFIG and RINGMASTER_CONTEXTS)`,
    );
  }
  let contexts = parseContextList(process.env.RINGMASTER_CONTEXTS);
  if (!contexts.length) {
    const kc = new KubeConfig();
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
    contexts = kc
      .getContexts()
      .map((c) => c.name)
      .sort();
  }
  return loadClusters({ kubeconfigPath: path, contexts });
}

export function firstCluster(clusters: Map<string, KubeClusterClients>): KubeClusterClients {
  const c = [...clusters.values()][0];
  if (!c) throw new Error('no cluster configured');
  return c;
}

export function uniqueNamespace(what: string): string {
  return `rk-${what}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function createNamespace(
  c: KubeClusterClients,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await c.core.createNamespace({
    body: { metadata: { name, labels: { 'ringmaster.dev/test': 'kube-int', ...labels } } },
  });
}

/** Deletes the namespace and does not wait (kwok's delete stage empties it quickly). */
export async function deleteNamespace(c: KubeClusterClients, name: string): Promise<void> {
  try {
    await c.core.deleteNamespace({
      name,
      body: { propagationPolicy: 'Background', gracePeriodSeconds: 0 },
    });
  } catch {
    // already gone
  }
}

/** Renders the Mimir-shaped fixture (test/fixtures/mimir/render.mjs) into `namespace`. */
export function renderFixture(
  layout: 'microservices' | 'monolithic',
  namespace: string,
  extra: string[] = [],
): KubernetesObject[] {
  const out = execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, 'test/fixtures/mimir/render.mjs'),
      '--layout',
      layout,
      '--size',
      'small',
      '--namespace',
      namespace,
      ...extra,
    ],
    {
      encoding: 'utf8',
    },
  );
  return (JSON.parse(out) as { items: KubernetesObject[] }).items;
}

/** Creates the objects in order (the Namespace first, as rendered). */
export async function createAll(c: KubeClusterClients, items: KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(c.kc);
  for (const item of items) await api.create(item);
}

/** A small StatefulSet of kwok pods, chart-labelled. */
export function testStatefulSet(
  namespace: string,
  name: string,
  replicas: number,
  strategy: 'OnDelete' | 'RollingUpdate' = 'OnDelete',
) {
  const labels = { 'app.kubernetes.io/name': 'mimir', 'app.kubernetes.io/component': name, name };
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: 'Parallel' as const,
      selector: { matchLabels: labels },
      updateStrategy: { type: strategy },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'main', image: 'grafana/mimir:2.14.0' }],
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    },
  };
}

export function testDeployment(namespace: string, name: string, replicas: number) {
  const labels = { 'app.kubernetes.io/name': 'mimir', 'app.kubernetes.io/component': name, name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '15%', maxUnavailable: 0 } },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'main', image: 'grafana/mimir:2.14.0' }],
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    },
  };
}
