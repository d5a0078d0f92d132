/**
 * The planner's view of the clusters: the last observation of every pod and workload, rebuilt
 * at startup from the compacted `cluster.pods` / `cluster.workloads` topics and kept current
 * from them. Indexed the way decide() reads it (ObservedFleet: target -> component -> pod).
 *
 * Newer wins: an observation older than the one held (resourceVersion, then observedAt: a
 * probe result changes without a new resourceVersion) is ignored, so a
 * watcher that restarts and re-publishes cannot move the view backwards. A tombstone removes.
 */
import type {
  ObservedFleet,
  ObservedTarget,
  PodObs,
  TargetKey,
  WorkloadObs,
} from '@ringmaster/rollout-core';
import { targetKey } from '@ringmaster/rollout-core';
import {
  fromPodStateMessage,
  fromWorkloadStateMessage,
  isNewerObservation,
  parseClusterObjectKey,
  type ObservationMeta,
  type PodStateMessage,
  type TargetReachabilityMessage,
  type WorkloadStateMessage,
} from '@ringmaster/contracts';

/** What changed: decide() looks at this target (and component, when known). */
export interface ObservedChange {
  target: TargetKey;
  component?: string;
}

export class ObservedStateStore {
  readonly fleet: ObservedFleet = {};
  /** `p|<key>` / `w|<key>` -> resourceVersion held, and the pod's component (for tombstones). */
  private readonly held = new Map<string, { meta: ObservationMeta; component: string }>();
  /** `r|<cluster/namespace>` -> observedAt of the reachability message held. */
  private readonly reachabilityAt = new Map<string, number>();

  applyPod(key: string, msg: PodStateMessage | null): ObservedChange | undefined {
    if (msg === null) return this.forget('p', key);
    const { target, pod, meta } = fromPodStateMessage(msg);
    const k = `p|${key}`;
    const prev = this.held.get(k);
    if (!isNewerObservation(meta, prev?.meta)) return undefined;
    const t = this.target(targetKey(target));
    if (prev && prev.component !== pod.component) delete t.pods[prev.component]?.[pod.name];
    (t.pods[pod.component] ??= {})[pod.name] = pod as PodObs;
    this.held.set(k, { meta, component: pod.component });
    return { target: targetKey(target), component: pod.component };
  }

  applyWorkload(key: string, msg: WorkloadStateMessage | null): ObservedChange | undefined {
    if (msg === null) return this.forget('w', key);
    const { target, workload, meta } = fromWorkloadStateMessage(msg);
    const k = `w|${key}`;
    if (!isNewerObservation(meta, this.held.get(k)?.meta)) return undefined;
    this.target(targetKey(target)).workloads[workload.name] = workload as WorkloadObs;
    this.held.set(k, { meta, component: workload.component });
    return { target: targetKey(target), component: workload.component };
  }

  /**
   * The watcher's word on a target's reachability (`cluster.reachability`, keyed
   * `cluster/namespace`): unreachable sets ObservedTarget.unreachable, reachable (or a
   * tombstone) clears it. The newest message (observedAt) wins.
   */
  applyReachability(
    key: string,
    msg: TargetReachabilityMessage | null,
  ): ObservedChange | undefined {
    const k = `r|${key}`;
    if (msg === null) {
      if (!this.reachabilityAt.delete(k)) return undefined;
      const t = this.fleet[key];
      if (t) delete t.unreachable;
      return { target: key };
    }
    if (msg.observedAt <= (this.reachabilityAt.get(k) ?? -1)) return undefined;
    this.reachabilityAt.set(k, msg.observedAt);
    const tk = targetKey(msg);
    const t = this.target(tk);
    const was = t.unreachable;
    if (msg.reachable) delete t.unreachable;
    else t.unreachable = { since: msg.since, reason: msg.reason ?? 'unreachable' };
    if (!was && msg.reachable) return undefined;
    return { target: tk };
  }

  /** Targets (cluster/namespace) with at least one workload observed. */
  targets(): TargetKey[] {
    return Object.keys(this.fleet)
      .filter((k) => Object.keys(this.fleet[k]!.workloads).length > 0)
      .sort();
  }

  workloads(target: TargetKey): WorkloadObs[] | undefined {
    const t = this.fleet[target];
    return t && Object.keys(t.workloads).length > 0 ? Object.values(t.workloads) : undefined;
  }

  clusters(): string[] {
    return [...new Set(this.targets().map((k) => k.slice(0, k.indexOf('/'))))].sort();
  }

  private forget(kind: 'p' | 'w', key: string): ObservedChange | undefined {
    const held = this.held.get(`${kind}|${key}`);
    if (!held) return undefined;
    this.held.delete(`${kind}|${key}`);
    const parsed = parseClusterObjectKey(key);
    if (!parsed) return undefined;
    const { cluster, namespace, name } = parsed;
    const tk = `${cluster}/${namespace}`;
    const t = this.fleet[tk];
    if (!t) return undefined;
    if (kind === 'p') delete t.pods[held.component]?.[name];
    else delete t.workloads[name];
    return { target: tk, component: held.component };
  }

  private target(key: TargetKey): ObservedTarget {
    return (this.fleet[key] ??= { workloads: {}, pods: {} });
  }
}
