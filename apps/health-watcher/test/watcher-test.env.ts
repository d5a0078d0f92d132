/**
 * What the health watcher's integration test runs against, and small helpers.
 *
 *   KUBECONFIG           default: the merged kubeconfig of `scripts/cluster.sh up`
 *                        (${RINGMASTER_STATE_DIR:-~/.cache/ringmaster/clusters}/kubeconfig.yaml)
 *   RINGMASTER_CONTEXTS  the first entry is the cluster used (default: kwok-ringmaster-1)
 *   KAFKA_BROKERS        default 127.0.0.1:19092 (scripts/infra.sh up)
 *
 * Isolation: topics under a unique KAFKA_TOPIC_PREFIX, a namespace of its own (`hw-<random>`),
 * a unique consumer group; all removed afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import type { Consumer, Kafka } from 'kafkajs';
import {
  PodStateMessageSchema,
  WorkloadStateMessageSchema,
  parseCompacted,
  type PodStateMessage,
  type WorkloadStateMessage,
} from '@ringmaster/contracts';
import { parseContextEntry, type KubeClusterClients } from '@ringmaster/kube';
export { waitFor } from '../../../test/support/wait-for';

export const REPO_ROOT = join(__dirname, '..', '..', '..');

export function testKubeconfig(): string {
  const fromEnv = process.env.KUBECONFIG;
  if (fromEnv) return fromEnv;
  const state =
    process.env.RINGMASTER_STATE_DIR ??
    join(process.env.RINGMASTER_CACHE ?? join(homedir(), '.cache', 'ringmaster'), 'clusters');
  const path = join(state, 'kubeconfig.yaml');
  if (!existsSync(path))
    throw new Error(
      `no kubeconfig at ${path}: run 'scripts/cluster.sh up --clusters 1' (or set KUBECONFIG)`,
    );
  return path;
}

/** `name=context` of the cluster under test. */
export function testContextEntry(): { entry: string; name: string; context: string } {
  const entry = (process.env.RINGMASTER_CONTEXTS ?? 'kwok-ringmaster-1').split(',')[0].trim();
  return { entry, ...parseContextEntry(entry) };
}

export function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

/** The monolithic fixture (StatefulSet `mimir`, 3 pods, PDB, headless service) in `namespace`. */
export function renderMonolithic(namespace: string): KubernetesObject[] {
  const out = execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, 'test/fixtures/mimir/render.mjs'),
      '--layout',
      'monolithic',
      '--size',
      'small',
      '--namespace',
      namespace,
    ],
    { encoding: 'utf8' },
  );
  return (JSON.parse(out) as { items: KubernetesObject[] }).items;
}

/** A one-replica chart-labelled Deployment (a gateway), to follow a Deployment's revision. */
export function gatewayDeployment(namespace: string): KubernetesObject {
  const labels = {
    'app.kubernetes.io/name': 'mimir',
    'app.kubernetes.io/instance': 'mimir',
    'app.kubernetes.io/component': 'gateway',
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'mimir-gateway', namespace, labels: { ...labels, name: 'gateway' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { ...labels, name: 'gateway' } },
        spec: {
          terminationGracePeriodSeconds: 0,
          containers: [
            { name: 'nginx', image: 'docker.io/nginxinc/nginx-unprivileged:1.27-alpine' },
          ],
          tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists', effect: 'NoSchedule' }],
        },
      },
    },
  } as KubernetesObject;
}

export async function createAll(c: KubeClusterClients, items: KubernetesObject[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(c.kc);
  for (const item of items) await api.create(item);
}

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

export interface Seen<T> {
  topic: string;
  key: string;
  value: T | null;
  partition: number;
  offset: bigint;
  /** When the test's consumer received it. */
  at: number;
}

/** Everything a consumer of both state topics has received, in arrival order. */
export class StateLog {
  readonly pods: Seen<PodStateMessage>[] = [];
  readonly workloads: Seen<WorkloadStateMessage>[] = [];
  readonly invalid: string[] = [];

  podsOf(key: string) {
    return this.pods.filter((m) => m.key === key);
  }

  workloadsOf(key: string) {
    return this.workloads.filter((m) => m.key === key);
  }

  lastPod(key: string): Seen<PodStateMessage> | undefined {
    return this.podsOf(key).at(-1);
  }

  lastWorkload(key: string): Seen<WorkloadStateMessage> | undefined {
    return this.workloadsOf(key).at(-1);
  }
}

/** Starts a consumer (own group, from the beginning) that records both topics into `log`. */
export async function recordStateTopics(
  kafka: Kafka,
  topics: { pods: string; workloads: string },
  groupId: string,
): Promise<{ log: StateLog; consumer: Consumer }> {
  const log = new StateLog();
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.pods, topics.workloads], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const key = message.key?.toString('utf8') ?? '';
      const base = { topic, key, partition, offset: BigInt(message.offset), at: Date.now() };
      if (topic === topics.pods) {
        const r = parseCompacted(PodStateMessageSchema, message.value);
        if (r.ok) log.pods.push({ ...base, value: r.value });
        else log.invalid.push(`${topic} ${key}: ${r.reason}`);
      } else {
        const r = parseCompacted(WorkloadStateMessageSchema, message.value);
        if (r.ok) log.workloads.push({ ...base, value: r.value });
        else log.invalid.push(`${topic} ${key}: ${r.reason}`);
      }
    },
  });
  return { log, consumer };
}
