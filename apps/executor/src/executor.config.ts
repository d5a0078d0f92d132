/**
 * The executor's settings, read once at startup from the environment and validated there: every
 * problem is reported at once, each naming its variable, and the service stops before it
 * connects to anything.
 *
 *   KAFKA_*                        see libs/messaging kafka.config.ts (KAFKA_BROKERS required,
 *                                  KAFKA_TOPIC_PREFIX, TLS/SASL, ...); client id default
 *                                  `ringmaster-executor`
 *   KUBECONFIG                     kubeconfig file(s), ':'-separated; each must exist. Unset:
 *                                  client-node's default lookup (~/.kube/config, in-cluster)
 *   RINGMASTER_CONTEXTS            required: the clusters this executor can reach, comma-separated,
 *                                  each `context` (cluster name = context name) or `name=context`
 *   EXECUTOR_ID                    this instance in results and logs (default `<hostname>-<pid>`)
 *   EXECUTOR_GROUP_ID              Kafka consumer group shared by all executors
 *                                  (default `<KAFKA_TOPIC_PREFIX>ringmaster-executor`: Ringmasters
 *                                  sharing a Kafka under different prefixes must not share a group)
 *   EXECUTOR_CONCURRENCY           partitions handled in parallel (default 6, the topic's count)
 *   EXECUTOR_REFUSAL_DEADLINE_MS   how long a PDB refusal is retried before the final `refused`
 *                                  (default 120000, as libs/kube)
 *   EXECUTOR_RETRY_BUDGET_MS       how long retriable Kubernetes errors of one command are retried
 *                                  before it is reported `failed` (default 600000; 0 = forever)
 *   EXECUTOR_UNREACHABLE_AFTER_MS  a command whose every attempt failed to connect to its cluster
 *                                  is reported `unreachable` (nothing done; its partition moves on)
 *                                  after this long (default 2000; 0 = at the first)
 *   EXECUTOR_BACKOFF_INITIAL_MS    first wait before a retry (default 500)
 *   EXECUTOR_BACKOFF_MAX_MS        longest wait between retries (default 10000)
 *   EXECUTOR_COMPLETED_CACHE_SIZE  results of recently completed commands kept to answer
 *                                  redeliveries without Kubernetes (default 10000)
 *
 *   loadExecutorConfig({ KAFKA_BROKERS: 'k:9092', RINGMASTER_CONTEXTS: 'eu-1=gke_eu,kwok-1' })
 *     -> { contexts: ['eu-1=gke_eu', 'kwok-1'], clusterNames: ['eu-1', 'kwok-1'], groupId: 'ringmaster-executor', ... }
 *   loadExecutorConfig({})
 *     -> throws ExecutorConfigError('invalid executor configuration: KAFKA_BROKERS: required ...;
 *        RINGMASTER_CONTEXTS: required ...')
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { delimiter } from 'node:path';
import { ClusterNameSchema } from '@ringmaster/contracts';
import {
  DEFAULT_REFUSAL_DEADLINE_MS,
  type KubeClusterClients,
  loadClusters,
  parseContextEntry,
  parseContextList,
} from '@ringmaster/kube';
import { KafkaConfigError, kafkaConfigFromEnv, type KafkaSettings } from '@ringmaster/messaging';

/** Nest injection token of the validated ExecutorConfig. */
export const EXECUTOR_CONFIG = Symbol('EXECUTOR_CONFIG');

export interface ExecutorConfig {
  kafka: KafkaSettings;
  /** One file to load, or undefined: client-node's default lookup (several files, in-cluster). */
  kubeconfigPath?: string;
  /** RINGMASTER_CONTEXTS entries as given (`context` or `name=context`). */
  contexts: string[];
  /** Cluster names, in the order given (the `target.cluster` values this executor accepts). */
  clusterNames: string[];
  executorId: string;
  groupId: string;
  concurrency: number;
  refusalDeadlineMs: number;
  /** 0: retry retriable errors forever. */
  retryBudgetMs: number;
  unreachableAfterMs: number;
  backoff: { initialMs: number; maxMs: number };
  completedCacheSize: number;
}

export interface ConfigProblem {
  variable: string;
  problem: string;
}

export class ExecutorConfigError extends Error {
  readonly retriable = false;
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid executor configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`,
    );
    this.name = 'ExecutorConfigError';
  }
}

const GROUP_ID = /^[A-Za-z0-9._-]{1,249}$/;

export function loadExecutorConfig(env: NodeJS.ProcessEnv = process.env): ExecutorConfig {
  const problems: ConfigProblem[] = [];
  const bad = (variable: string, problem: string) => problems.push({ variable, problem });
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const int = (name: string, dflt: number, min: number): number => {
    const raw = get(name);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      bad(name, `must be an integer >= ${min} (got "${raw}")`);
      return dflt;
    }
    return n;
  };

  let kafka: KafkaSettings | undefined;
  try {
    kafka = kafkaConfigFromEnv(env, { clientId: 'ringmaster-executor' });
  } catch (e) {
    if (e instanceof KafkaConfigError) problems.push(...e.problems);
    else throw e;
  }

  const kubeconfig = get('KUBECONFIG');
  const files = (kubeconfig ?? '').split(delimiter).filter(Boolean);
  for (const f of files) if (!existsSync(f)) bad('KUBECONFIG', `no such file: ${f}`);

  const contexts = parseContextList(env.RINGMASTER_CONTEXTS);
  const clusterNames: string[] = [];
  if (contexts.length === 0) {
    bad(
      'RINGMASTER_CONTEXTS',
      'required: the clusters this executor can reach (`context` or `name=context`, comma-separated)',
    );
  }
  for (const entry of contexts) {
    const { name, context } = parseContextEntry(entry);
    const valid = ClusterNameSchema.safeParse(name);
    if (!valid.success || !context) {
      bad(
        'RINGMASTER_CONTEXTS',
        `"${entry}": ${context ? `cluster name ${valid.error?.issues[0]?.message}` : 'no context'}`,
      );
    } else if (clusterNames.includes(name)) {
      bad('RINGMASTER_CONTEXTS', `cluster name "${name}" is given twice`);
    } else {
      clusterNames.push(name);
    }
  }

  const executorId = get('EXECUTOR_ID') ?? `${hostname()}-${process.pid}`;
  if (executorId.length > 253) bad('EXECUTOR_ID', 'at most 253 characters');

  const groupId = get('EXECUTOR_GROUP_ID') ?? `${kafka?.topicPrefix ?? ''}ringmaster-executor`;
  if (!GROUP_ID.test(groupId))
    bad('EXECUTOR_GROUP_ID', 'only letters, digits, ".", "_" and "-" (at most 249)');

  const concurrency = int('EXECUTOR_CONCURRENCY', 6, 1);
  const refusalDeadlineMs = int('EXECUTOR_REFUSAL_DEADLINE_MS', DEFAULT_REFUSAL_DEADLINE_MS, 0);
  const retryBudgetMs = int('EXECUTOR_RETRY_BUDGET_MS', 600_000, 0);
  const unreachableAfterMs = int('EXECUTOR_UNREACHABLE_AFTER_MS', 2_000, 0);
  const initialMs = int('EXECUTOR_BACKOFF_INITIAL_MS', 500, 1);
  const maxMs = int('EXECUTOR_BACKOFF_MAX_MS', 10_000, 1);
  if (maxMs < initialMs)
    bad('EXECUTOR_BACKOFF_MAX_MS', `must be >= EXECUTOR_BACKOFF_INITIAL_MS (${initialMs})`);
  const completedCacheSize = int('EXECUTOR_COMPLETED_CACHE_SIZE', 10_000, 1);

  if (problems.length > 0 || !kafka) throw new ExecutorConfigError(problems);
  return {
    kafka,
    // A single file is loaded as such; several (or none) go through client-node's default
    // lookup, which reads $KUBECONFIG itself (process.env) and merges the files.
    kubeconfigPath: files.length === 1 ? files[0] : undefined,
    contexts,
    clusterNames,
    executorId,
    groupId,
    concurrency,
    refusalDeadlineMs,
    retryBudgetMs,
    unreachableAfterMs,
    backoff: { initialMs, maxMs },
    completedCacheSize,
  };
}

/**
 * Loads the clients of every configured cluster, failing fast when a context is not in the
 * kubeconfig (the error names RINGMASTER_CONTEXTS, or KUBECONFIG when the file is unreadable).
 */
export function loadExecutorClusters(config: ExecutorConfig): Map<string, KubeClusterClients> {
  try {
    return loadClusters({ kubeconfigPath: config.kubeconfigPath, contexts: config.contexts });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const reason = (e as { reason?: string }).reason;
    const variable =
      reason === 'ContextNotFound' || /context|cluster name/i.test(message)
        ? 'RINGMASTER_CONTEXTS'
        : 'KUBECONFIG';
    throw new ExecutorConfigError([{ variable, problem: message }]);
  }
}
