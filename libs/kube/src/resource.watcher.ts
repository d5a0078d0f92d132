/**
 * List-then-watch of one resource kind in one namespace (or all), the way client-go's
 * reflector does it, so a consumer misses no change:
 *
 *   1. LIST (paged); hand the full list to `onResync` and remember its resourceVersion.
 *   2. WATCH from that resourceVersion with bookmarks; each ADDED/MODIFIED goes to `onUpsert`,
 *      each DELETED to `onDelete`; every event and BOOKMARK advances the resourceVersion.
 *   3. The server ends a watch after `timeoutSeconds` (or the connection drops): watch again
 *      from the last resourceVersion; nothing between the two watches is lost, because the
 *      API replays every event after that version.
 *   4. `410 Gone` (an ERROR event with code 410, or an HTTP 410) means the version is older
 *      than the history the API keeps (etcd compaction, watch-cache window): LIST again and
 *      hand the full list to `onResync`, so the consumer can drop objects that vanished while
 *      it was not watching, then watch from the new list's version.
 *   5. Other errors (network, 5xx, 403 while RBAC is fixed) are reported to `onError` and
 *      retried with exponential backoff + jitter; a watch that delivered events resets it.
 *
 * `onResync` is also how the first list is delivered: "this is everything there is now".
 * Handlers run one at a time in event order (async handlers are awaited); a handler that
 * throws is reported to `onError` and the stream goes on.
 *
 * Objects from the LIST are client-node's typed objects (timestamps are `Date`s); objects
 * from the WATCH are the JSON the API sent (timestamps are strings). The mappers accept both.
 */
import { Watch } from '@kubernetes/client-node';
import type {
  KubernetesObject,
  V1Deployment,
  V1ListMeta,
  V1Pod,
  V1ReplicaSet,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { type BackoffOptions, backoffDelay, sleep } from './backoff.policy';
import { type KubeClusterClients, type KubeClusters, clientsFor } from './kube-clusters';
import { httpStatusOf, withTimeout } from './kube.errors';

export type WatchKind = 'pods' | 'statefulsets' | 'deployments' | 'replicasets';

export interface WatchObjectTypes {
  pods: V1Pod;
  statefulsets: V1StatefulSet;
  deployments: V1Deployment;
  replicasets: V1ReplicaSet;
}

export type WatchPhase = 'list' | 'watch' | 'handler';

export interface WatchHandlers<T> {
  onUpsert(obj: T): void | Promise<void>;
  onDelete(obj: T): void | Promise<void>;
  /** The complete current list (first list, and after every 410): drop what is not in it. */
  onResync(list: T[]): void | Promise<void>;
  /** Every error, with what the watcher does next. Default: ignored (still retried). */
  onError?(err: unknown, info: { phase: WatchPhase; retryInMs?: number }): void;
  /**
   * The API answered: a list completed, or a watch connected. With onError, this tells a
   * consumer whether it currently sees the cluster (the health watcher's reachability).
   */
  onConnected?(info: { phase: 'list' | 'watch' }): void;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** LIST page size. Default 500. */
  pageSize?: number;
  /** Server-side watch timeout; default random 300..600 s like client-go, so reconnects spread. */
  timeoutSeconds?: number;
  /** A watch with no event nor bookmark for this long is considered dead. Default timeoutSeconds + 60 s. */
  idleTimeoutMs?: number;
  /** Bound on each LIST page request. Default 60 s. */
  listTimeoutMs?: number;
  /** Reconnect backoff after errors. Default 250 ms doubling to 30 s. */
  backoff?: BackoffOptions;
  /**
   * Resume from this resourceVersion instead of listing first (a version persisted earlier).
   * If it is too old, the API answers 410 and the watcher lists and resyncs as usual.
   */
  resumeFrom?: string;
  random?: () => number;
}

export interface WatchStats {
  lists: number;
  watches: number;
  /** 410 Gone answers (each followed by a re-list). */
  gone: number;
  events: number;
  errors: number;
}

export interface ResourceWatch {
  /** Resolves after the first onResync completed (or the first resumed watch connected). */
  readonly synced: Promise<void>;
  /** Last resourceVersion seen (list, event or bookmark). */
  resourceVersion(): string | undefined;
  stats(): Readonly<WatchStats>;
  /** Stops watching; resolves once no handler runs any more. */
  stop(): Promise<void>;
}

const WATCH_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, factor: 2 };

/** API path of a kind in a namespace (all namespaces when `namespace` is empty). */
export function watchPath(kind: WatchKind, namespace?: string): string {
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return kind === 'pods' ? `/api/v1${ns}/pods` : `/apis/apps/v1${ns}/${kind}`;
}

type ListPage<T> = { items: T[]; metadata?: V1ListMeta };
type Lister<T> = (q: {
  _continue?: string;
  limit: number;
  labelSelector?: string;
  fieldSelector?: string;
}) => Promise<ListPage<T>>;

function lister<K extends WatchKind>(
  c: KubeClusterClients,
  kind: K,
  namespace?: string,
): Lister<WatchObjectTypes[K]> {
  const l = (() => {
    switch (kind) {
      case 'pods':
        return namespace
          ? (q: object) => c.core.listNamespacedPod({ ...q, namespace })
          : (q: object) => c.core.listPodForAllNamespaces(q);
      case 'statefulsets':
        return namespace
          ? (q: object) => c.apps.listNamespacedStatefulSet({ ...q, namespace })
          : (q: object) => c.apps.listStatefulSetForAllNamespaces(q);
      case 'deployments':
        return namespace
          ? (q: object) => c.apps.listNamespacedDeployment({ ...q, namespace })
          : (q: object) => c.apps.listDeploymentForAllNamespaces(q);
      case 'replicasets':
        return namespace
          ? (q: object) => c.apps.listNamespacedReplicaSet({ ...q, namespace })
          : (q: object) => c.apps.listReplicaSetForAllNamespaces(q);
      default:
        throw new Error(`unknown kind ${kind as string}`);
    }
  })();
  return l as unknown as Lister<WatchObjectTypes[K]>;
}

type WatchEnd =
  | { kind: 'gone' }
  | { kind: 'closed'; events: number; ms: number }
  | { kind: 'error'; err: unknown; events: number };

class ResourceWatchLoop<T extends KubernetesObject> implements ResourceWatch {
  readonly synced: Promise<void>;
  private resolveSynced!: () => void;
  private rv: string | undefined;
  private stopped = false;
  private readonly stopSignal = new AbortController();
  private current: AbortController | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly counters: WatchStats = { lists: 0, watches: 0, gone: 0, events: 0, errors: 0 };
  private readonly loop: Promise<void>;

  constructor(
    private readonly clients: KubeClusterClients,
    private readonly namespace: string | undefined,
    private readonly kind: WatchKind,
    private readonly handlers: WatchHandlers<T>,
    private readonly opts: WatchOptions,
  ) {
    this.synced = new Promise((r) => (this.resolveSynced = r));
    this.rv = opts.resumeFrom;
    this.loop = this.run();
  }

  resourceVersion() {
    return this.rv;
  }

  stats() {
    return { ...this.counters };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopSignal.abort();
    this.current?.abort();
    await this.loop;
    await this.queue;
  }

  private report(err: unknown, phase: WatchPhase, retryInMs?: number) {
    this.counters.errors++;
    try {
      this.handlers.onError?.(err, { phase, ...(retryInMs !== undefined ? { retryInMs } : {}) });
    } catch {
      // A failing error handler must not stop the watch.
    }
  }

  private connected(phase: 'list' | 'watch') {
    try {
      this.handlers.onConnected?.({ phase });
    } catch {
      // A failing handler must not stop the watch.
    }
  }

  /** Runs handlers strictly in order. */
  private enqueue(fn: () => void | Promise<void>): Promise<void> {
    this.queue = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (err) {
        this.report(err, 'handler');
      }
    });
    return this.queue;
  }

  private async run(): Promise<void> {
    const backoff = this.opts.backoff ?? WATCH_BACKOFF;
    const random = this.opts.random ?? Math.random;
    let needList = this.rv === undefined;
    let failures = 0;
    const pause = async (phase: WatchPhase, err: unknown) => {
      const ms = backoffDelay(failures++, backoff, random);
      this.report(err, phase, ms);
      await sleep(ms, this.stopSignal.signal);
    };
    while (!this.stopped) {
      if (needList) {
        try {
          await this.list();
          needList = false;
          failures = 0;
        } catch (err) {
          if (this.stopped) break;
          // 410 on a continue token (list outlived the compaction window): plain retry.
          await pause('list', err);
          continue;
        }
      }
      if (this.stopped) break;
      const end = await this.watchOnce();
      if (this.stopped) break;
      if (end.kind === 'gone') {
        this.counters.gone++;
        needList = true;
        continue;
      }
      if (end.events > 0) failures = 0;
      if (end.kind === 'error') await pause('watch', end.err);
      // A watch the server closes at once, again and again, must not become a busy loop.
      else if (end.events === 0 && end.ms < 1000)
        await sleep(backoffDelay(failures++, backoff, random), this.stopSignal.signal);
    }
  }

  private async list(): Promise<void> {
    const list = lister(
      this.clients,
      this.kind as WatchKind,
      this.namespace,
    ) as unknown as Lister<T>;
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await withTimeout(
        list({
          limit: this.opts.pageSize ?? 500,
          ...(cont ? { _continue: cont } : {}),
          ...(this.opts.labelSelector ? { labelSelector: this.opts.labelSelector } : {}),
          ...(this.opts.fieldSelector ? { fieldSelector: this.opts.fieldSelector } : {}),
        }),
        this.opts.listTimeoutMs ?? 60_000,
        `list ${this.kind}`,
      );
      items.push(...page.items);
      cont = page.metadata?._continue || undefined;
      // Every page of a paged list is served at the first page's version.
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    this.counters.lists++;
    this.rv = rv;
    this.connected('list');
    await this.enqueue(() => this.handlers.onResync(items));
    this.resolveSynced();
  }

  private watchOnce(): Promise<WatchEnd> {
    return new Promise<WatchEnd>((resolve) => {
      let events = 0;
      let gone = false;
      let errorEvent: unknown;
      let idle: NodeJS.Timeout | undefined;
      let ctrl: AbortController | undefined;
      let idleFired = false;
      const started = Date.now();
      const timeoutSeconds =
        this.opts.timeoutSeconds ?? Math.round(300 + 300 * (this.opts.random ?? Math.random)());
      const idleMs = this.opts.idleTimeoutMs ?? timeoutSeconds * 1000 + 60_000;
      const abort = () => ctrl?.abort();
      const arm = () => {
        if (idle) clearTimeout(idle);
        idle = setTimeout(() => {
          idleFired = true;
          // Not connected yet (a connect that hangs): give up on it without waiting for the OS.
          if (ctrl) abort();
          else
            finish({
              kind: 'error',
              err: new Error(`watch ${this.kind}: no connection within ${idleMs} ms`),
              events,
            });
        }, idleMs);
      };
      let finished = false;
      const finish = (end: WatchEnd) => {
        if (finished) return;
        finished = true;
        if (idle) clearTimeout(idle);
        if (this.current === ctrl) this.current = undefined;
        resolve(end);
      };
      this.counters.watches++;
      arm();
      const onEvent = (type: string, obj: unknown) => {
        // A connection given up on (idle) may still deliver: it must not move the version.
        if (finished) return;
        arm();
        const o = obj as T & { code?: number };
        switch (type) {
          case 'ADDED':
          case 'MODIFIED':
            events++;
            this.counters.events++;
            this.rv = o.metadata?.resourceVersion ?? this.rv;
            void this.enqueue(() => this.handlers.onUpsert(o));
            break;
          case 'DELETED':
            events++;
            this.counters.events++;
            this.rv = o.metadata?.resourceVersion ?? this.rv;
            void this.enqueue(() => this.handlers.onDelete(o));
            break;
          case 'BOOKMARK':
            this.rv = o.metadata?.resourceVersion ?? this.rv;
            break;
          case 'ERROR':
            // A Status object. 410: our version is no longer in the API's history.
            if (o.code === 410) gone = true;
            else
              errorEvent = Object.assign(
                new Error(
                  `watch ERROR event: ${(o as { message?: string }).message ?? JSON.stringify(o)}`,
                ),
                { statusCode: o.code },
              );
            abort();
            break;
          default:
            break;
        }
      };
      const onDone = (err: unknown) => {
        if (gone || httpStatusOf(err) === 410) return finish({ kind: 'gone' });
        if (errorEvent) return finish({ kind: 'error', err: errorEvent, events });
        if (idleFired)
          return finish({
            kind: 'error',
            err: new Error(`watch ${this.kind} idle for ${idleMs} ms; reconnecting`),
            events,
          });
        // Our own abort (stop) or a server-side close after timeoutSeconds: watch again.
        if (!err || this.stopped)
          return finish({ kind: 'closed', events, ms: Date.now() - started });
        finish({ kind: 'error', err, events });
      };
      const query: Record<string, string | number | boolean | undefined> = {
        resourceVersion: this.rv,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
      };
      new Watch(this.clients.kc)
        .watch(watchPath(this.kind, this.namespace), query, onEvent, onDone)
        .then((c) => {
          ctrl = c;
          if (finished) {
            c.abort();
            return;
          }
          this.current = c;
          if (this.stopped || gone || errorEvent) c.abort();
          else {
            this.connected('watch');
            // A resumed watch (no list) is "synced" once it is connected.
            this.resolveSynced();
          }
        })
        .catch((err) => onDone(err));
    });
  }
}

/** Starts a list-then-watch on one cluster's clients. */
export function watchResources<K extends WatchKind>(
  clients: KubeClusterClients,
  namespace: string | undefined,
  kind: K,
  handlers: WatchHandlers<WatchObjectTypes[K]>,
  opts: WatchOptions = {},
): ResourceWatch {
  return new ResourceWatchLoop<WatchObjectTypes[K]>(clients, namespace, kind, handlers, opts);
}

/** The same, with clusters named as in a rollout's targets. */
export class ResourceWatcher {
  constructor(private readonly clusters: KubeClusters) {}

  watch<K extends WatchKind>(
    cluster: string,
    namespace: string | undefined,
    kind: K,
    handlers: WatchHandlers<WatchObjectTypes[K]>,
    opts: WatchOptions = {},
  ): ResourceWatch {
    return watchResources(clientsFor(this.clusters, cluster), namespace, kind, handlers, opts);
  }
}
