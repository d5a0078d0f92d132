/**
 * The health watcher's settings, read once at startup from the environment. Every problem is
 * collected and reported at once, each naming its variable, and the service stops before it
 * watches or connects anything.
 *
 *   KAFKA_*                              see libs/messaging kafka.config.ts (KAFKA_BROKERS required;
 *                                        KAFKA_TOPIC_PREFIX prefixes cluster.pods / cluster.workloads)
 *   KUBECONFIG                           kubeconfig file (required; ':'-separated files are merged)
 *   RINGMASTER_CONTEXTS                  clusters to watch: `ctx` or `name=ctx`, comma-separated
 *                                        (required). The name is the `cluster` in keys and messages.
 *   RINGMASTER_NAMESPACES                namespaces to watch (default `mimir`): `ns` = in every
 *                                        cluster, `cluster/ns` = in that cluster only
 *   RINGMASTER_LABEL_SELECTOR            objects watched (default `app.kubernetes.io/name=mimir`)
 *   RINGMASTER_READY_PROBE_URL           URL of GET /ready (default `http://{podIP}:8080/ready`);
 *                                        placeholders {podIP} {namespace} {pod} {cluster}
 *   RINGMASTER_READY_PROBE_INTERVAL_MS   how often each probed pod is asked (default 1000)
 *   RINGMASTER_READY_PROBE_TIMEOUT_MS    per request (default min(1000, interval))
 *   RINGMASTER_PROBE_COMPONENTS          components probed, comma-separated; `none` disables
 *                                        probing. Default: pods carrying the annotation
 *                                        `ringmaster.dev/ready-probe`, and monolithic pods
 *                                        (component `all`, `monolithic`, `mimir`)
 *   RINGMASTER_PUBLISH_LINGER_MS         coalesce sends for this long (default 50)
 *   RINGMASTER_UNREACHABLE_AFTER_MS      a target whose watches have failed (no answer from its
 *                                        API) this long is published unreachable on
 *                                        cluster.reachability (default 10000)
 *
 * Worked example:
 *   RINGMASTER_CONTEXTS=eu-1=gke_acme_eu_prod,kwok-ringmaster-1
 *   RINGMASTER_NAMESPACES=mimir,eu-1/mimir-canary
 *   -> targets eu-1/mimir, eu-1/mimir-canary, kwok-ringmaster-1/mimir
 *
 * When RINGMASTER_READY_PROBE_URL is not set and a pod carries `ringmaster.dev/ready-probe:
 * 9009/ready`, that pod is probed at `http://{podIP}:9009/ready` (the annotation names the
 * port and path); an explicit template wins over annotations (e.g. a proxy or the test stub).
 */
import { existsSync } from 'node:fs';
import { NamespaceSchema, ClusterNameSchema } from '@ringmaster/contracts';
import { parseContextEntry, parseContextList } from '@ringmaster/kube';
import {
  KafkaConfigError,
  kafkaConfigFromEnv,
  redactedConfig,
  type KafkaSettings,
} from '@ringmaster/messaging';
import type { TargetRef } from '@ringmaster/rollout-core';

export const HEALTH_WATCHER_CONFIG = Symbol('HEALTH_WATCHER_CONFIG');

export const DEFAULT_NAMESPACES = 'mimir';
export const DEFAULT_LABEL_SELECTOR = 'app.kubernetes.io/name=mimir';
export const DEFAULT_READY_PROBE_URL = 'http://{podIP}:8080/ready';
/** Components that run every module: their `/ready` is the only sign the whole instance is up. */
export const MONOLITHIC_COMPONENTS: readonly string[] = ['all', 'monolithic', 'mimir'];

export interface ProbeSettings {
  /** URL template, see renderProbeUrl. */
  urlTemplate: string;
  /** True when the operator set RINGMASTER_READY_PROBE_URL (then annotations don't override it). */
  explicitUrl: boolean;
  intervalMs: number;
  timeoutMs: number;
  /**
   * Components probed. `undefined`: the default rule (annotated pods + monolithic components).
   * Empty: probing is off.
   */
  components?: readonly string[];
}

export interface HealthWatcherConfig {
  kafka: KafkaSettings;
  /** KUBECONFIG as given (may list several files separated by ':'). */
  kubeconfig: string;
  /** RINGMASTER_CONTEXTS entries, `ctx` or `name=ctx`. */
  contexts: string[];
  /** Every (cluster, namespace) watched, sorted. */
  targets: TargetRef[];
  labelSelector: string;
  probe: ProbeSettings;
  publishLingerMs: number;
  unreachableAfterMs: number;
}

export interface ConfigProblem {
  variable: string;
  problem: string;
}

export class HealthWatcherConfigError extends Error {
  readonly retriable = false;
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid health-watcher configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`,
    );
    this.name = 'HealthWatcherConfigError';
  }
}

const PLACEHOLDERS = ['podIP', 'namespace', 'pod', 'cluster'] as const;

export function healthWatcherConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): HealthWatcherConfig {
  const problems: ConfigProblem[] = [];
  const bad = (variable: string, problem: string) => problems.push({ variable, problem });
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };

  let kafka: KafkaSettings | undefined;
  try {
    kafka = kafkaConfigFromEnv(env, { clientId: 'ringmaster-health-watcher' });
  } catch (e) {
    if (e instanceof KafkaConfigError) problems.push(...e.problems);
    else throw e;
  }

  const kubeconfig = get('KUBECONFIG');
  if (!kubeconfig) bad('KUBECONFIG', 'required (path of the kubeconfig naming every context)');
  else {
    for (const file of kubeconfig.split(':').filter(Boolean)) {
      if (!existsSync(file)) bad('KUBECONFIG', `no such file: ${file}`);
    }
  }

  const contexts = parseContextList(env.RINGMASTER_CONTEXTS);
  const clusters: string[] = [];
  if (contexts.length === 0)
    bad(
      'RINGMASTER_CONTEXTS',
      'required (comma-separated kubeconfig contexts, `name=context` allowed)',
    );
  for (const entry of contexts) {
    const { name, context } = parseContextEntry(entry);
    if (!context) {
      bad('RINGMASTER_CONTEXTS', `"${entry}" names no context`);
      continue;
    }
    const r = ClusterNameSchema.safeParse(name);
    if (!r.success)
      bad('RINGMASTER_CONTEXTS', `cluster name "${name}" ${r.error.issues[0].message}`);
    else if (clusters.includes(name))
      bad('RINGMASTER_CONTEXTS', `cluster name "${name}" is given twice`);
    else clusters.push(name);
  }

  const targets = parseNamespaces(
    env.RINGMASTER_NAMESPACES === undefined ? DEFAULT_NAMESPACES : env.RINGMASTER_NAMESPACES,
    clusters,
    (p) => bad('RINGMASTER_NAMESPACES', p),
  );

  const labelSelector = get('RINGMASTER_LABEL_SELECTOR') ?? DEFAULT_LABEL_SELECTOR;

  const explicitTemplate = get('RINGMASTER_READY_PROBE_URL');
  const urlTemplate = explicitTemplate ?? DEFAULT_READY_PROBE_URL;
  const templateProblem = checkUrlTemplate(urlTemplate);
  if (templateProblem) bad('RINGMASTER_READY_PROBE_URL', templateProblem);

  const intervalMs = positiveInt(env, 'RINGMASTER_READY_PROBE_INTERVAL_MS', 1000, bad);
  const timeoutMs = positiveInt(
    env,
    'RINGMASTER_READY_PROBE_TIMEOUT_MS',
    Math.min(1000, intervalMs),
    bad,
  );
  const publishLingerMs = positiveInt(env, 'RINGMASTER_PUBLISH_LINGER_MS', 50, bad, 0);
  const unreachableAfterMs = positiveInt(env, 'RINGMASTER_UNREACHABLE_AFTER_MS', 10_000, bad, 0);

  let components: string[] | undefined;
  const componentsRaw = get('RINGMASTER_PROBE_COMPONENTS');
  if (componentsRaw !== undefined) {
    components =
      componentsRaw.toLowerCase() === 'none'
        ? []
        : [...new Set(parseContextList(componentsRaw))].sort();
    if (componentsRaw.toLowerCase() !== 'none' && components.length === 0)
      bad('RINGMASTER_PROBE_COMPONENTS', 'lists no component (use `none` to disable probing)');
  }

  if (problems.length > 0 || !kafka || !kubeconfig) throw new HealthWatcherConfigError(problems);
  return {
    kafka,
    kubeconfig,
    contexts,
    targets,
    labelSelector,
    probe: {
      urlTemplate,
      explicitUrl: explicitTemplate !== undefined,
      intervalMs,
      timeoutMs,
      ...(components ? { components } : {}),
    },
    publishLingerMs,
    unreachableAfterMs,
  };
}

/**
 * RINGMASTER_NAMESPACES -> targets. `ns` applies to every cluster, `cluster/ns` to that one.
 *
 *   parseNamespaces('mimir, eu-1/canary', ['eu-1', 'us-1'])
 *     -> [eu-1/canary, eu-1/mimir, us-1/mimir]
 */
export function parseNamespaces(
  value: string,
  clusters: readonly string[],
  bad: (problem: string) => void = () => undefined,
): TargetRef[] {
  const entries = parseContextList(value);
  if (entries.length === 0) bad('lists no namespace');
  const out = new Map<string, TargetRef>();
  const add = (cluster: string, namespace: string) =>
    out.set(`${cluster}/${namespace}`, { cluster, namespace });
  for (const entry of entries) {
    const parts = entry.split('/');
    if (parts.length > 2) {
      bad(`"${entry}" is neither "namespace" nor "cluster/namespace"`);
      continue;
    }
    const namespace = parts[parts.length - 1];
    const ns = NamespaceSchema.safeParse(namespace);
    if (!ns.success) {
      bad(`"${namespace}" ${ns.error.issues[0].message}`);
      continue;
    }
    if (parts.length === 2) {
      const cluster = parts[0];
      if (!clusters.includes(cluster)) {
        bad(
          `"${entry}": cluster "${cluster}" is not in RINGMASTER_CONTEXTS (${clusters.join(', ') || 'none'})`,
        );
        continue;
      }
      add(cluster, namespace);
    } else {
      for (const c of clusters) add(c, namespace);
    }
  }
  return [...out.values()].sort(
    (a, b) => a.cluster.localeCompare(b.cluster) || a.namespace.localeCompare(b.namespace),
  );
}

/** A problem with a probe URL template, or undefined when it is usable. */
export function checkUrlTemplate(template: string): string | undefined {
  const unknown = [...template.matchAll(/\{([^}]*)\}/g)]
    .map((m) => m[1])
    .filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length)
    return `unknown placeholder(s) ${unknown.map((p) => `{${p}}`).join(', ')}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`;
  const sample = template.replace(/\{[^}]*\}/g, 'x');
  let url: URL;
  try {
    url = new URL(sample);
  } catch {
    return `"${template}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http:// or https://';
  return undefined;
}

function positiveInt(
  env: NodeJS.ProcessEnv,
  name: string,
  dflt: number,
  bad: (variable: string, problem: string) => void,
  min = 1,
): number {
  const raw = env[name]?.trim();
  if (!raw) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    bad(name, `must be an integer >= ${min} (got "${raw}")`);
    return dflt;
  }
  return n;
}

/** Settings safe to log (Kafka password masked). */
export function describeConfig(c: HealthWatcherConfig): Record<string, unknown> {
  return {
    kafka: redactedConfig(c.kafka),
    kubeconfig: c.kubeconfig,
    contexts: c.contexts,
    targets: c.targets.map((t) => `${t.cluster}/${t.namespace}`),
    labelSelector: c.labelSelector,
    probe: c.probe,
    publishLingerMs: c.publishLingerMs,
    unreachableAfterMs: c.unreachableAfterMs,
  };
}
