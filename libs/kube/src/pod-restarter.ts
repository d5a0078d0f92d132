/**
 * Restarts one pod: evicts it (the Eviction API respects PodDisruptionBudgets) or, when asked,
 * deletes it. Either way the pod's controller recreates it at the update revision.
 *
 * Idempotent by uid. The command names the uid the planner saw; the pod is read first and a
 * missing pod or another uid means it was already replaced ("already-done"), and the eviction
 * or delete itself carries `preconditions.uid`, so a pod replaced between the read and the
 * write is never restarted a second time (the API answers 409, also "already-done").
 *
 * | API answer to the eviction                     | result                                         |
 * |------------------------------------------------|------------------------------------------------|
 * | 201                                            | done                                           |
 * | 429 (PDB would be violated, or throttling)     | wait (exponential backoff + jitter, at least   |
 * |                                                | Retry-After), report the refusal, try again;   |
 * |                                                | past the deadline: `refused` with the message  |
 * | 404 (pod gone) / 409 (uid precondition failed) | already-done                                   |
 * | 5xx, timeout, connection reset                 | throw KubeRetriableError                       |
 * | 403, 422, 500 "more than one PDB", ...         | failed, with the reason                        |
 *
 * A 429 is never turned into a delete: the budget is the cluster owner's word on how much
 * disruption is acceptable, and a delete would bypass it.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import type { RestartPodCommand } from '@ringmaster/rollout-core';
import {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  backoffDelay,
  sleep as defaultSleep,
} from './backoff.policy';
import type { KubeCommandResult } from './kube-command.result';
import { type KubeClusters, clientsFor } from './kube-clusters';
import {
  DEFAULT_CALL_TIMEOUT_MS,
  classifyKubeError,
  describe,
  httpStatusOf,
  rethrowIfRetriable,
  withTimeout,
} from './kube.errors';

/** The three calls a restart makes (a CoreV1Api satisfies it; tests pass a fake). */
export type PodRestartApi = Pick<
  CoreV1Api,
  'readNamespacedPod' | 'createNamespacedPodEviction' | 'deleteNamespacedPod'
>;

/** One 429 answer to an eviction, as reported to `onRefused` (the executor emits `refused`). */
export interface EvictionRefusal {
  namespace: string;
  pod: string;
  uid: string;
  /** 1 for the first refusal. */
  attempt: number;
  /** The API's message and the budget's cause, e.g. "Cannot evict pod ... (The disruption budget mimir-ingester needs 5 healthy pods and has 5 currently)". */
  message: string;
  /** Wait before the next attempt; undefined when the deadline ends the retries. */
  retryInMs?: number;
}

export interface RestartOptions {
  /**
   * How long PDB refusals are retried before `refused` is returned (ms from the first
   * attempt). Default 120 s. 0: a single attempt.
   */
  refusalDeadlineMs?: number;
  backoff?: BackoffOptions;
  onRefused?: (refusal: EvictionRefusal) => void;
  /** Aborts the waiting between attempts (shutdown); the result is then `refused`. */
  signal?: AbortSignal;
  /** Bound on each API call (read, evict, delete); past it: KubeRetriableError. Default 30 s. */
  callTimeoutMs?: number;
  /** Injected clock, randomness and sleep, for tests. */
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<boolean>;
}

export const DEFAULT_REFUSAL_DEADLINE_MS = 120_000;

/** Restart with a given API (pure of the cluster registry; unit-tested with a fake API). */
export async function restartPodWith(
  api: PodRestartApi,
  cmd: RestartPodCommand,
  opts: RestartOptions = {},
): Promise<KubeCommandResult> {
  const namespace = cmd.target.namespace;
  const name = cmd.pod;
  const what = `pod ${cmd.target.cluster}/${namespace}/${name}`;
  const callMs = opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;

  let pod: V1Pod;
  try {
    pod = await withTimeout(api.readNamespacedPod({ name, namespace }), callMs, `read ${what}`);
  } catch (err) {
    if (httpStatusOf(err) === 404) return { outcome: 'already-done', detail: `${what} is gone` };
    const c = rethrowIfRetriable(err, `read ${what}`);
    return { outcome: 'failed', detail: `read ${what}: ${describe(c)}` };
  }
  const uid = pod.metadata?.uid;
  if (uid !== cmd.uid)
    return {
      outcome: 'already-done',
      detail: `${what} was replaced (uid ${uid}, command for ${cmd.uid})`,
    };
  if (pod.metadata?.deletionTimestamp) {
    // Being deleted already (an earlier attempt whose answer was lost, or someone else): the
    // controller will recreate it; restarting it again would change nothing.
    return { outcome: 'already-done', detail: `${what} (uid ${uid}) is already terminating` };
  }

  if (cmd.method === 'delete') {
    try {
      await withTimeout(
        api.deleteNamespacedPod({ name, namespace, body: { preconditions: { uid: cmd.uid } } }),
        callMs,
        `delete ${what}`,
      );
      return { outcome: 'done', detail: `${what} deleted (uid ${cmd.uid})` };
    } catch (err) {
      return settle(err, what, 'delete');
    }
  }

  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const wait = opts.sleep ?? defaultSleep;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const deadline = now() + (opts.refusalDeadlineMs ?? DEFAULT_REFUSAL_DEADLINE_MS);
  for (let attempt = 0; ; attempt++) {
    try {
      await withTimeout(
        api.createNamespacedPodEviction({
          name,
          namespace,
          body: {
            apiVersion: 'policy/v1',
            kind: 'Eviction',
            metadata: { name, namespace },
            deleteOptions: { preconditions: { uid: cmd.uid } },
          },
        }),
        callMs,
        `evict ${what}`,
      );
      return {
        outcome: 'done',
        detail: `${what} evicted (uid ${cmd.uid})${attempt ? ` after ${attempt} refusal(s)` : ''}`,
      };
    } catch (err) {
      if (httpStatusOf(err) !== 429) return settle(err, what, 'evict');
      const message = describeRefusal(err);
      let delay = Math.max(backoffDelay(attempt, backoff, random), retryAfterMs(err));
      const left = deadline - now();
      const last = left <= 0 || opts.signal?.aborted;
      delay = Math.min(delay, Math.max(0, left));
      opts.onRefused?.({
        namespace,
        pod: name,
        uid: cmd.uid,
        attempt: attempt + 1,
        message,
        ...(last ? {} : { retryInMs: delay }),
      });
      if (last)
        return {
          outcome: 'refused',
          detail: `${what}: eviction refused ${attempt + 1} time(s): ${message}`,
        };
      if (!(await wait(delay, opts.signal))) {
        return {
          outcome: 'refused',
          detail: `${what}: eviction refused ${attempt + 1} time(s), stopped waiting: ${message}`,
        };
      }
    }
  }
}

/** Outcome of a failed eviction/delete that is not a 429. */
function settle(err: unknown, what: string, verb: 'evict' | 'delete'): KubeCommandResult {
  const status = httpStatusOf(err);
  if (status === 404) return { outcome: 'already-done', detail: `${what} is gone` };
  // The uid precondition failed: the name now belongs to a new pod, the restart happened.
  if (status === 409)
    return { outcome: 'already-done', detail: `${what} was replaced (uid precondition failed)` };
  const c = rethrowIfRetriable(err, `${verb} ${what}`);
  return { outcome: 'failed', detail: `${verb} ${what}: ${describe(c)}` };
}

function describeRefusal(err: unknown): string {
  const c = classifyKubeError(err);
  return c.causes ? `${c.message} (${c.causes})` : c.message;
}

/** `Retry-After` (seconds) of a 429, in ms; 0 when absent. */
function retryAfterMs(err: unknown): number {
  const headers = (err as { headers?: Record<string, string> } | undefined)?.headers;
  const v = headers?.['retry-after'] ?? headers?.['Retry-After'];
  const s = v === undefined ? NaN : Number(v);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 0;
}

export class PodRestarter {
  constructor(
    private readonly clusters: KubeClusters,
    private readonly defaults: RestartOptions = {},
  ) {}

  /**
   * Restarts `cmd.pod` in `cluster` if its uid is still `cmd.uid`. Resolves to the outcome;
   * throws KubeRetriableError for transient failures (the caller retries the whole command,
   * which is safe: it starts again from the read).
   */
  async restartPod(
    cluster: string,
    cmd: RestartPodCommand,
    opts: RestartOptions = {},
  ): Promise<KubeCommandResult> {
    let api: PodRestartApi;
    try {
      api = clientsFor(this.clusters, cluster).core;
    } catch (err) {
      return { outcome: 'failed', detail: describe(classifyKubeError(err)) };
    }
    return restartPodWith(api, cmd, { ...this.defaults, ...opts });
  }
}
