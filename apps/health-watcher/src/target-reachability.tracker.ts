/**
 * Whether the watcher can see one target's Kubernetes API, from its watches' own successes and
 * failures, and the `cluster.reachability` messages that says so. Pure: events and the clock
 * (`now`) in, messages out.
 *
 *   - a watch that fails (list or watch request, not a handler) is failing from that first
 *     failure until it next succeeds (a list completes, a watch connects);
 *   - the target is unreachable once some watch has been failing for `unreachableAfterMs`;
 *     `since` is that watch's first failure, `reason` its last error;
 *   - it is reachable when no watch is failing and each has succeeded at least once;
 *   - in between (a short blip, or still starting) nothing is published: the last word stands.
 * A message goes out only when reachable/unreachable flips (the first decision included, so a
 * restarted watcher overwrites what a previous run left on the compacted topic).
 *
 * Worked example (unreachableAfterMs 3000, watches pods and statefulsets):
 *   connected(pods, 0), connected(statefulsets, 0)  -> reachable since 0
 *   failed(pods, 'ECONNREFUSED', 10000)             -> nothing (failing for 0 ms)
 *   evaluate(12000)                                  -> nothing (2000 ms)
 *   evaluate(13000)                                  -> unreachable since 10000: "watch pods: ECONNREFUSED"
 *   connected(pods, 40000)                           -> reachable since 40000
 * The same sequence is in target-reachability.tracker.spec.ts.
 */
import {
  REACHABILITY_TYPE,
  reachabilityKey,
  type TargetReachabilityMessage,
} from '@ringmaster/contracts';
import type { TargetRef } from '@ringmaster/rollout-core';
import type { OutgoingMessage } from './target-state.tracker';

/** A `cluster.reachability` message, queued with the state messages (ClusterStatePublisher). */
export interface ReachabilityMessage {
  topic: 'reachability';
  key: string;
  value: TargetReachabilityMessage | null;
}

/** Everything the watcher publishes. */
export type PublishedMessage = OutgoingMessage | ReachabilityMessage;

/** Longest error text carried in a message. */
const MAX_REASON = 500;

export class TargetReachability {
  private readonly failing = new Map<string, { since: number; reason: string }>();
  private readonly answered = new Set<string>();
  private published?: { reachable: boolean; since: number };

  constructor(
    readonly target: TargetRef,
    /** The watches of the target (pods, statefulsets, ...): each must answer once. */
    private readonly watches: readonly string[],
    private readonly unreachableAfterMs: number,
  ) {}

  failed(watch: string, reason: string, now: number): ReachabilityMessage[] {
    const since = this.failing.get(watch)?.since ?? now;
    this.failing.set(watch, { since, reason });
    return this.evaluate(now);
  }

  connected(watch: string, now: number): ReachabilityMessage[] {
    this.failing.delete(watch);
    this.answered.add(watch);
    return this.evaluate(now);
  }

  /** Also called on a timer: a failure becomes unreachability with time alone. */
  evaluate(now: number): ReachabilityMessage[] {
    let oldest: { watch: string; since: number; reason: string } | undefined;
    for (const [watch, f] of this.failing)
      if (!oldest || f.since < oldest.since) oldest = { watch, ...f };
    if (oldest && now - oldest.since >= this.unreachableAfterMs) {
      if (this.published && !this.published.reachable) return [];
      const reason = `watch ${oldest.watch}: ${oldest.reason}`;
      return this.publish(false, oldest.since, now, reason.slice(0, MAX_REASON));
    }
    const allAnswered = this.watches.every((w) => this.answered.has(w));
    if (this.failing.size === 0 && allAnswered && !this.published?.reachable)
      return this.publish(true, now, now);
    return [];
  }

  /** Whether it was last published unreachable (for /readyz and logs). */
  get unreachable(): boolean {
    return this.published?.reachable === false;
  }

  private publish(
    reachable: boolean,
    since: number,
    now: number,
    reason?: string,
  ): ReachabilityMessage[] {
    this.published = { reachable, since };
    const value: TargetReachabilityMessage = {
      v: 1,
      type: REACHABILITY_TYPE,
      cluster: this.target.cluster,
      namespace: this.target.namespace,
      reachable,
      since,
      ...(reason !== undefined ? { reason } : {}),
      observedAt: now,
    };
    return [{ topic: 'reachability', key: reachabilityKey(this.target), value }];
  }
}
