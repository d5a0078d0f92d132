/**
 * Runs the watches: for every target (cluster, namespace) one list-then-watch per kind (pods,
 * statefulsets, deployments, replicasets; libs/kube's watchResources, which resumes from its
 * resourceVersion and re-lists on 410), feeding that target's TargetStateTracker, whose
 * messages go to `publish`. 4 watches per target: 50 clusters x 2 namespaces is 400 HTTP
 * streams, which one Node process holds easily (the API servers do the filtering by label).
 *
 * Reachability: each target's TargetReachability follows its watches' failures and successes
 * (checked every second as well, since failing long enough is what makes a target
 * unreachable) and publishes `cluster.reachability` when the answer flips.
 *
 * Handlers of one watch run one at a time in event order (the watcher guarantees it); the four
 * watches of a target interleave, which the tracker is built for (a pod may arrive before its
 * workload, a ReplicaSet before its Deployment).
 */
import type { V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import {
  clientsFor,
  watchResources,
  type KubeClusters,
  type ResourceWatch,
  type WatchKind,
  type WatchOptions,
  type WatchStats,
} from '@ringmaster/kube';
import { errorReason } from '@ringmaster/messaging';
import { targetKey, type ReadyProbe, type TargetRef } from '@ringmaster/rollout-core';
import { TargetStateTracker, type ProbeCandidate } from './target-state.tracker';
import { TargetReachability, type PublishedMessage } from './target-reachability.tracker';
import type { LiveKey } from './state-topic.reader';
import type { ProbeSettings } from './watcher.config';

export const WATCH_KINDS: readonly WatchKind[] = [
  'pods',
  'statefulsets',
  'deployments',
  'replicasets',
];

export interface WatchStatus {
  target: string;
  kind: WatchKind;
  synced: boolean;
  stats: WatchStats;
}

export interface SupervisorLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface SupervisorOptions {
  clusters: KubeClusters;
  targets: readonly TargetRef[];
  labelSelector: string;
  probe: Pick<ProbeSettings, 'components' | 'urlTemplate' | 'explicitUrl'>;
  publish: (messages: PublishedMessage[]) => void;
  logger: SupervisorLogger;
  /** Passed to every watch (tests shorten timeouts). */
  watchOptions?: Omit<WatchOptions, 'labelSelector'>;
  /** A target whose watches failed this long is published unreachable (default 10 s). */
  unreachableAfterMs?: number;
  now?: () => number;
}

interface RunningWatch {
  target: string;
  kind: WatchKind;
  watch: ResourceWatch;
  synced: boolean;
}

export class ClusterWatchSupervisor {
  private readonly trackers = new Map<string, TargetStateTracker>();
  private readonly reachability = new Map<string, TargetReachability>();
  private reachabilityTimer?: NodeJS.Timeout;
  private readonly running: RunningWatch[] = [];
  private stopped = false;
  private markStopped!: () => void;
  /** Resolves on stop(): waits on watches that may never sync end with it. */
  private readonly whenStopped = new Promise<void>((r) => (this.markStopped = r));

  constructor(private readonly opts: SupervisorOptions) {
    for (const t of opts.targets) {
      this.trackers.set(targetKey(t), new TargetStateTracker(t, opts.probe));
      this.reachability.set(
        targetKey(t),
        new TargetReachability(t, WATCH_KINDS, opts.unreachableAfterMs ?? 10_000),
      );
    }
  }

  start(): void {
    for (const tracker of this.trackers.values()) {
      for (const kind of WATCH_KINDS) this.startWatch(tracker, kind);
    }
    this.reachabilityTimer = setInterval(() => {
      for (const r of this.reachability.values()) this.emit(r.evaluate(this.now()));
    }, 1000);
  }

  /** Targets last published unreachable. */
  unreachableTargets(): string[] {
    return [...this.reachability].filter(([, r]) => r.unreachable).map(([k]) => k);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.reachabilityTimer);
    this.markStopped();
    await Promise.all(this.running.map((r) => r.watch.stop()));
  }

  status(): WatchStatus[] {
    return this.running.map((r) => ({
      target: r.target,
      kind: r.kind,
      synced: r.synced,
      stats: r.watch.stats(),
    }));
  }

  /** Every watch has delivered its first list. */
  allSynced(): boolean {
    return this.running.length > 0 && this.running.every((r) => r.synced);
  }

  probeCandidates(): ProbeCandidate[] {
    return [...this.trackers.values()].flatMap((t) => t.probeCandidates());
  }

  applyProbe(c: ProbeCandidate, result: ReadyProbe): void {
    if (this.stopped) return;
    const tracker = this.trackers.get(targetKey(c.target));
    if (!tracker) return;
    this.emit(tracker.applyProbe(c.pod, c.uid, c.readySince, result, this.now()));
  }

  /**
   * Tombstones what a previous watcher left on the topics that no longer exists (deleted while
   * no watcher ran). Per target, once its watches have listed: a key of the target that the
   * topic holds and the target does not, unless its resourceVersion is newer than what our
   * watch has seen (a peer watcher of the same cluster may have published an object our watch
   * has not delivered yet; its own event will arrive). Returns how many were tombstoned.
   */
  async reconcileWithTopic(seed: {
    pods: ReadonlyMap<string, LiveKey>;
    workloads: ReadonlyMap<string, LiveKey>;
  }): Promise<number> {
    let count = 0;
    for (const tracker of this.trackers.values()) {
      const target = `${tracker.target.cluster}/${tracker.target.namespace}`;
      const watches = (kinds: WatchKind[]) =>
        this.running.filter((r) => r.target === target && kinds.includes(r.kind));
      for (const [topic, kinds] of [
        ['pods', ['pods']],
        ['workloads', ['statefulsets', 'deployments']],
      ] as const) {
        const ws = watches([...kinds]);
        await Promise.race([Promise.all(ws.map((w) => w.watch.synced)), this.whenStopped]);
        if (this.stopped) return count;
        const seen = ws.map((w) => w.watch.resourceVersion());
        const names = keysOfTarget(seed[topic], `${target}/`)
          .filter(([, live]) => seen.every((rv) => notNewer(live.resourceVersion, rv)))
          .map(([name]) => name);
        const tombstones = tracker.tombstonesForUnknown(topic, names);
        count += tombstones.length;
        this.emit(tombstones);
      }
    }
    return count;
  }

  tracker(target: TargetRef): TargetStateTracker | undefined {
    return this.trackers.get(targetKey(target));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private emit(messages: PublishedMessage[]): void {
    if (messages.length && !this.stopped) this.opts.publish(messages);
  }

  private startWatch(tracker: TargetStateTracker, kind: WatchKind): void {
    const { cluster, namespace } = tracker.target;
    const label = `${cluster}/${namespace} ${kind}`;
    const clients = clientsFor(this.opts.clusters, cluster);
    const opts: WatchOptions = {
      ...this.opts.watchOptions,
      labelSelector: this.opts.labelSelector,
    };
    const reachability = this.reachability.get(targetKey(tracker.target))!;
    const onError = (err: unknown, info: { phase: string; retryInMs?: number }) => {
      this.opts.logger.warn(
        `watch ${label}: ${info.phase} failed${info.retryInMs !== undefined ? `, retrying in ${info.retryInMs} ms` : ''}: ${errorReason(err)}`,
      );
      // A handler's error is ours, not the API's: it says nothing about reachability.
      if (info.phase !== 'handler')
        this.emit(reachability.failed(kind, apiFailure(err), this.now()));
    };
    const onConnected = () => this.emit(reachability.connected(kind, this.now()));
    let watch: ResourceWatch;
    switch (kind) {
      case 'pods':
        watch = watchResources(
          clients,
          namespace,
          'pods',
          {
            onUpsert: (p) => this.emit(tracker.upsertPod(p, this.now())),
            onDelete: (p) => this.emit(tracker.deletePod(p)),
            onResync: (list) => this.emit(tracker.resyncPods(list, this.now())),
            onError,
            onConnected,
          },
          opts,
        );
        break;
      case 'statefulsets':
      case 'deployments': {
        const wk = kind === 'statefulsets' ? 'StatefulSet' : 'Deployment';
        watch = watchResources<'statefulsets' | 'deployments'>(
          clients,
          namespace,
          kind,
          {
            onUpsert: (o: V1StatefulSet | V1Deployment) =>
              this.emit(tracker.upsertWorkload(wk, o, this.now())),
            onDelete: (o: V1StatefulSet | V1Deployment) =>
              this.emit(tracker.deleteWorkload(wk, o, this.now())),
            onResync: (list: (V1StatefulSet | V1Deployment)[]) =>
              this.emit(tracker.resyncWorkloads(wk, list, this.now())),
            onError,
            onConnected,
          },
          opts,
        );
        break;
      }
      case 'replicasets':
        watch = watchResources(
          clients,
          namespace,
          'replicasets',
          {
            onUpsert: (rs) => this.emit(tracker.upsertReplicaSet(rs, this.now())),
            onDelete: (rs) => this.emit(tracker.deleteReplicaSet(rs, this.now())),
            onResync: (list) => this.emit(tracker.resyncReplicaSets(list, this.now())),
            onError,
            onConnected,
          },
          opts,
        );
        break;
    }
    const entry: RunningWatch = { target: `${cluster}/${namespace}`, kind, watch, synced: false };
    this.running.push(entry);
    void watch.synced.then(() => {
      entry.synced = true;
      this.opts.logger.log(`watch ${label}: synced`);
    });
  }
}

/** [name, live] of the keys under `prefix` (`cluster/namespace/`). */
function keysOfTarget(
  keys: ReadonlyMap<string, LiveKey>,
  prefix: string,
): Array<[string, LiveKey]> {
  const out: Array<[string, LiveKey]> = [];
  for (const [key, live] of keys) {
    if (key.startsWith(prefix) && !key.slice(prefix.length).includes('/'))
      out.push([key.slice(prefix.length), live]);
  }
  return out;
}

/**
 * `a` is not newer than `b`. resourceVersions are etcd revisions in every Kubernetes that
 * exists (decimal, growing); anything else can't be ordered, and then the list is trusted.
 */
export function notNewer(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return true;
  return BigInt(a) <= BigInt(b);
}

/**
 * An API failure in a few words for the reachability reason: node-fetch's "request to <url>
 * failed, reason: connect ECONNREFUSED 10.0.0.1:6443" becomes "connect ECONNREFUSED
 * 10.0.0.1:6443" (the URL, with its query, says nothing more than the target already does).
 */
export function apiFailure(err: unknown): string {
  const reason = errorReason(err);
  const m = /request to \S+ failed, reason: (.*)$/.exec(reason);
  return m ? m[1] : reason;
}
