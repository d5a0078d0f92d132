/**
 * Every Kafka topic Ringmaster produces or consumes, in one place, with the settings it is
 * created with (messaging's `ensureTopics` creates them from this list, idempotently).
 *
 * Names are the defaults; a deployment may prefix all of them (KAFKA_TOPIC_PREFIX, e.g.
 * `staging.`) so several Ringmasters, or test runs, can share one Kafka: see `topicNames()`.
 *
 * Every value is JSON: an envelope `{ "v": 1, "type": "<message type>", ... }` validated by the
 * schema named below (`*.schema.ts`). Version rule: a change that an old reader would misread is
 * a new `v`; adding an optional field is not. Readers reject versions they don't know, with a
 * reason, into the dead-letter topic.
 */

/** Envelope version this build writes and reads. */
export const MESSAGE_VERSION = 1 as const;

/**
 * Largest value a reader accepts (bytes). Matches Kafka's default `max.message.bytes` (~1 MiB),
 * so anything bigger could not have been produced to a default topic anyway; checking before
 * JSON.parse keeps a hostile payload from costing a parse.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** The original payload kept in a dead-letter message, at most (bytes). */
export const DEAD_LETTER_PAYLOAD_LIMIT = 64 * 1024;

export const TOPICS = {
  /**
   * `rollout.requests`: upgrade requests from other systems (CI, the platform's release train).
   * Key: the request's `requestId` (the planner de-duplicates on it). Value: RolloutRequestEvent.
   */
  requests: 'rollout.requests',
  /**
   * `rollout.commands`: what the planner tells executors to do. Key: the cluster, so one executor
   * at a time owns a cluster and a cluster's commands stay in order. Value: CommandMessage.
   */
  commands: 'rollout.commands',
  /**
   * `rollout.command-results`: executors' outcomes. Key: the rollout id (results of a rollout in
   * order). Value: CommandResultMessage.
   */
  commandResults: 'rollout.command-results',
  /**
   * `cluster.pods` (compacted): the last observation of every pod. Key: `cluster/namespace/pod`
   * (`clusterObjectKey`). Value: PodStateMessage; null = the pod is gone (tombstone).
   */
  pods: 'cluster.pods',
  /**
   * `cluster.workloads` (compacted): the last observation of every StatefulSet/Deployment. Key:
   * `cluster/namespace/name`. Value: WorkloadStateMessage; null = gone (tombstone).
   */
  workloads: 'cluster.workloads',
  /**
   * `cluster.reachability` (compacted): whether the health watcher can reach each target's
   * Kubernetes API. Key: `cluster/namespace`. Value: TargetReachabilityMessage; null = nothing
   * known (reachable).
   */
  reachability: 'cluster.reachability',
  /**
   * `rollout.status`: a rollout's status changes, for other systems (portal, chat ops). Key: the
   * rollout id. Value: RolloutStatusMessage.
   */
  status: 'rollout.status',
  /**
   * `ringmaster.dead-letter`: messages a consumer could not process for good (invalid, unknown
   * version, permanent handler error), with the reason. Key: the original key. Value:
   * DeadLetterMessage. Nothing consumes it automatically: it is for people and replay tools.
   */
  deadLetter: 'ringmaster.dead-letter',
} as const;

/**
 * Kafka header of a `rollout.requests` event that names and proves its producer: the same
 * bearer token the REST API takes (`Bearer rm_...`), checked against the same scopes. The
 * planner never copies it into the dead-letter topic or a log line. Only the planner should be
 * allowed to read `rollout.requests` (a Kafka ACL), as it holds these headers.
 */
export const REQUEST_AUTH_HEADER = 'authorization';

export type TopicId = keyof typeof TOPICS;
export type TopicNames = { readonly [K in TopicId]: string };

/** How a topic is created. `configs` are Kafka topic-level configs (strings, as Kafka takes them). */
export interface TopicSpec {
  id: TopicId;
  name: string;
  partitions: number;
  configs: Readonly<Record<string, string>>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Event topics: kept a week, long enough to replay after a bad deploy or a long outage. */
const EVENTS = { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) };

/**
 * State topics: compacted, so a reader that starts from the beginning rebuilds the current state
 * of every pod/workload. `delete.retention.ms`: how long a tombstone stays readable (a reader
 * must get through the topic within it to see deletions; one day is plenty). `segment.ms`:
 * roll segments hourly so compaction can run (the active segment is never compacted).
 * `min.compaction.lag.ms`: keep a minute of full history for debugging.
 */
const STATE = {
  'cleanup.policy': 'compact',
  'delete.retention.ms': String(DAY_MS),
  'segment.ms': String(60 * 60 * 1000),
  'min.compaction.lag.ms': String(60 * 1000),
};

/**
 * Partition counts: 6 lets up to 6 executors (or planner consumers) share a topic; the key
 * decides order (per cluster, per rollout, per object). The dead-letter topic has one partition:
 * it is low volume and read by people, in arrival order.
 */
export const TOPIC_SPECS: readonly TopicSpec[] = [
  { id: 'requests', name: TOPICS.requests, partitions: 6, configs: EVENTS },
  { id: 'commands', name: TOPICS.commands, partitions: 6, configs: EVENTS },
  { id: 'commandResults', name: TOPICS.commandResults, partitions: 6, configs: EVENTS },
  { id: 'pods', name: TOPICS.pods, partitions: 6, configs: STATE },
  { id: 'workloads', name: TOPICS.workloads, partitions: 6, configs: STATE },
  { id: 'reachability', name: TOPICS.reachability, partitions: 6, configs: STATE },
  { id: 'status', name: TOPICS.status, partitions: 6, configs: EVENTS },
  {
    id: 'deadLetter',
    name: TOPICS.deadLetter,
    partitions: 1,
    configs: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
  },
];

/**
 * Topic names under a prefix, e.g. `topicNames('staging.').commands === 'staging.rollout.commands'`.
 * The empty prefix gives TOPICS itself.
 */
export function topicNames(prefix = ''): TopicNames {
  const out = {} as Record<TopicId, string>;
  for (const id of Object.keys(TOPICS) as TopicId[]) out[id] = `${prefix}${TOPICS[id]}`;
  return out;
}

/** TOPIC_SPECS under a prefix (see topicNames). */
export function topicSpecs(prefix = ''): TopicSpec[] {
  return TOPIC_SPECS.map((s) => ({ ...s, name: `${prefix}${s.name}` }));
}

/**
 * Key of a pod or workload on the compacted topics: `cluster/namespace/name`. None of the three
 * may contain `/` (Kubernetes names and namespaces can't; cluster names are checked by the
 * schemas), so the key splits back unambiguously.
 */
export function clusterObjectKey(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

export function parseClusterObjectKey(
  key: string,
): { cluster: string; namespace: string; name: string } | undefined {
  const parts = key.split('/');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) return undefined;
  const [cluster, namespace, name] = parts;
  return { cluster, namespace, name };
}
