/**
 * What the health watcher knows about one target (cluster + namespace), and which messages a
 * change in it calls for. Pure: Kubernetes objects and probe results in, messages out; the
 * clock is an argument (`now`), nothing is sent from here.
 *
 * Messages (keys `cluster/namespace/name`, see contracts' clusterObjectKey):
 *   - a pod or workload whose observation changed -> its full state message (cluster.pods /
 *     cluster.workloads), with the object's resourceVersion and `observedAt = now`;
 *   - a deleted pod or workload -> a tombstone (value null);
 *   - a re-list (onResync) -> every listed object, changed or not, plus a tombstone for every
 *     object this tracker knew that the list no longer has (deleted while nobody watched).
 * An event that changes nothing the planner reads (a pod's status heartbeat, a new
 * resourceVersion with the same PodObs) publishes nothing: at 1,000+ pods that is most events.
 *
 * Derived fields, and why they are re-published:
 *   - A pod's component is its workload's once the workload is known (the workload's own
 *     `ringmaster.dev/component` annotation may not be on its pods; assembleTopology does the
 *     same), and a pod without a `zone` label takes its workload's zone. A workload whose
 *     component or zone changes re-publishes its pods.
 *   - A Deployment's updateRevision is the pod-template-hash of its newest ReplicaSet, so a
 *     ReplicaSet change (a roll starts) re-publishes the Deployment. Deployments are held back
 *     until the target's ReplicaSets were listed once, so the first message already carries
 *     the hash and not the `gen-<n>` fallback.
 *   - A probed pod's `probe`: 'failing' while not Ready, 'unknown' from the moment it is Ready
 *     (new uid or new Ready transition) until the first answer, then the answer. A result is
 *     applied only to the pod incarnation it was asked for (same uid and readySince), so a
 *     late answer never lands on a pod that restarted meanwhile.
 *
 * Re-publishes that come from a derived field carry the object's unchanged resourceVersion
 * and a newer observedAt: readers order observations of a key by (resourceVersion,
 * observedAt), contracts' isNewerObservation.
 *
 * Worked example (monolithic pod mimir-0, probed, template `http://{podIP}:8080/ready`):
 *   upsertPod(NotReady)            -> { ready: false, probe: 'failing' }
 *   upsertPod(Ready since t1)      -> { ready: true, readySince: t1, probe: 'unknown' }
 *   applyProbe(mimir-0, uid, t1, 'failing') -> { ..., probe: 'failing' }  (503 while joining the ring)
 *   applyProbe(mimir-0, uid, t1, 'failing') -> nothing (no change)
 *   applyProbe(mimir-0, uid, t1, 'ok')      -> { ..., probe: 'ok' }
 *   deletePod(mimir-0)             -> tombstone
 * The same sequence is in target-state.tracker.spec.ts.
 */
import type { V1Deployment, V1Pod, V1ReplicaSet, V1StatefulSet } from '@kubernetes/client-node';
import {
  clusterObjectKey,
  toPodStateMessage,
  toWorkloadStateMessage,
  type PodStateMessage,
  type WorkloadStateMessage,
} from '@ringmaster/contracts';
import { podDetails, toPodObs, toWorkloadObs, type PodDetails } from '@ringmaster/kube';
import type {
  PodObs,
  ReadyProbe,
  TargetRef,
  WorkloadKind,
  WorkloadObs,
} from '@ringmaster/rollout-core';
import { isProbed, probeUrlFor } from './ready-probe.rules';
import type { ProbeSettings } from './watcher.config';

export type StateTopic = 'pods' | 'workloads';

export type OutgoingMessage =
  | { topic: 'pods'; key: string; value: PodStateMessage | null }
  | { topic: 'workloads'; key: string; value: WorkloadStateMessage | null };

/** A Ready, probed pod the prober should ask, and the incarnation the answer belongs to. */
export interface ProbeCandidate {
  target: TargetRef;
  pod: string;
  uid: string;
  readySince: number | undefined;
  url: string | undefined;
}

interface PodEntry {
  /** toPodObs of the last object, before workload-derived fields and the probe. */
  base: PodObs;
  details: PodDetails;
  probe?: ReadyProbe;
  /** Fingerprint of the last published observation (undefined: never published). */
  published?: string;
  /** observedAt of the last message: the next is later, even within one millisecond. */
  lastAt?: number;
}

interface WorkloadEntry {
  kind: WorkloadKind;
  obj: V1StatefulSet | V1Deployment;
  /** Last mapped observation (undefined for a Deployment held back until ReplicaSets synced). */
  obs?: WorkloadObs;
  published?: string;
  lastAt?: number;
}

export class TargetStateTracker {
  private readonly pods = new Map<string, PodEntry>();
  private readonly workloads = new Map<string, WorkloadEntry>();
  private readonly replicaSets = new Map<string, V1ReplicaSet>();
  private replicaSetsListed = false;

  constructor(
    readonly target: TargetRef,
    private readonly probe: Pick<ProbeSettings, 'components' | 'urlTemplate' | 'explicitUrl'>,
  ) {}

  // ------------------------------------------------------------------ pods

  upsertPod(pod: V1Pod, now: number): OutgoingMessage[] {
    const name = pod.metadata?.name;
    if (!name) return [];
    const out: OutgoingMessage[] = [];
    this.storePod(pod);
    this.emitPod(name, now, false, out);
    return out;
  }

  deletePod(pod: V1Pod): OutgoingMessage[] {
    const name = pod.metadata?.name;
    if (!name) return [];
    const known = this.pods.get(name);
    // A DELETED for an older incarnation than the one we hold is stale: keep the newer pod.
    if (known && pod.metadata?.uid && known.base.uid !== pod.metadata.uid) return [];
    this.pods.delete(name);
    return [this.podTombstone(name)];
  }

  /** The complete list of pods: publish all, tombstone the vanished. */
  resyncPods(list: readonly V1Pod[], now: number): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    const seen = new Set<string>();
    for (const pod of list) {
      const name = pod.metadata?.name;
      if (!name) continue;
      seen.add(name);
      this.storePod(pod);
      this.emitPod(name, now, true, out);
    }
    for (const name of [...this.pods.keys()]) {
      if (seen.has(name)) continue;
      this.pods.delete(name);
      out.push(this.podTombstone(name));
    }
    return out;
  }

  /**
   * A probe answer for pod `name` as it was when asked (uid, readySince). Ignored when the pod
   * is gone, restarted, no longer Ready or no longer probed.
   */
  applyProbe(
    name: string,
    uid: string,
    readySince: number | undefined,
    result: ReadyProbe,
    now: number,
  ): OutgoingMessage[] {
    const e = this.pods.get(name);
    if (!e || e.base.uid !== uid || !e.base.ready || e.base.readySince !== readySince) return [];
    if (e.probe === undefined || e.probe === result) return [];
    e.probe = result;
    const out: OutgoingMessage[] = [];
    this.emitPod(name, now, false, out);
    return out;
  }

  /** Ready pods to probe now. */
  probeCandidates(): ProbeCandidate[] {
    const out: ProbeCandidate[] = [];
    for (const [name, e] of this.pods) {
      if (e.probe === undefined || !e.base.ready) continue;
      out.push({
        target: this.target,
        pod: name,
        uid: e.base.uid,
        readySince: e.base.readySince,
        url: probeUrlFor(
          this.probe,
          {
            podIP: e.details.podIP,
            namespace: this.target.namespace,
            pod: name,
            cluster: this.target.cluster,
          },
          e.details.readyProbe,
        ),
      });
    }
    return out;
  }

  // ------------------------------------------------------------------ workloads

  upsertWorkload(kind: WorkloadKind, obj: V1StatefulSet | V1Deployment, now: number) {
    const name = obj.metadata?.name;
    if (!name) return [];
    const out: OutgoingMessage[] = [];
    this.storeWorkload(kind, obj, now, false, out);
    return out;
  }

  deleteWorkload(kind: WorkloadKind, obj: V1StatefulSet | V1Deployment, now: number) {
    const name = obj.metadata?.name;
    if (!name) return [];
    const known = this.workloads.get(name);
    if (known && known.kind !== kind) return [];
    if (known && obj.metadata?.uid && known.obj.metadata?.uid !== obj.metadata.uid) return [];
    this.workloads.delete(name);
    const out: OutgoingMessage[] = [this.workloadTombstone(name)];
    this.refreshPodsOf(name, now, out);
    return out;
  }

  /** The complete list of one kind: publish all, tombstone the vanished of that kind. */
  resyncWorkloads(
    kind: WorkloadKind,
    list: readonly (V1StatefulSet | V1Deployment)[],
    now: number,
  ): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    const seen = new Set<string>();
    for (const obj of list) {
      const name = obj.metadata?.name;
      if (!name) continue;
      seen.add(name);
      this.storeWorkload(kind, obj, now, true, out);
    }
    for (const [name, e] of [...this.workloads]) {
      if (e.kind !== kind || seen.has(name)) continue;
      this.workloads.delete(name);
      out.push(this.workloadTombstone(name));
      this.refreshPodsOf(name, now, out);
    }
    return out;
  }

  upsertReplicaSet(rs: V1ReplicaSet, now: number): OutgoingMessage[] {
    const name = rs.metadata?.name;
    if (!name) return [];
    this.replicaSets.set(name, rs);
    return this.refreshDeployments(now, false);
  }

  deleteReplicaSet(rs: V1ReplicaSet, now: number): OutgoingMessage[] {
    const name = rs.metadata?.name;
    if (!name) return [];
    this.replicaSets.delete(name);
    return this.refreshDeployments(now, false);
  }

  resyncReplicaSets(list: readonly V1ReplicaSet[], now: number): OutgoingMessage[] {
    this.replicaSets.clear();
    for (const rs of list) if (rs.metadata?.name) this.replicaSets.set(rs.metadata.name, rs);
    this.replicaSetsListed = true;
    return this.refreshDeployments(now, false);
  }

  /**
   * Tombstones for objects a previous watcher published (read back from the topic at startup)
   * that this target does not have: deleted while no watcher was running.
   */
  tombstonesForUnknown(topic: StateTopic, names: Iterable<string>): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    for (const name of names) {
      if (topic === 'pods' && !this.pods.has(name)) out.push(this.podTombstone(name));
      if (topic === 'workloads' && !this.workloads.has(name))
        out.push(this.workloadTombstone(name));
    }
    return out;
  }

  /** Counts for /readyz and logs. */
  size(): { pods: number; workloads: number; replicaSets: number } {
    return {
      pods: this.pods.size,
      workloads: this.workloads.size,
      replicaSets: this.replicaSets.size,
    };
  }

  /** The observation of a pod as it would be published now (tests, debugging). */
  podObs(name: string): PodObs | undefined {
    const e = this.pods.get(name);
    return e ? this.effectivePod(e) : undefined;
  }

  workloadObs(name: string): WorkloadObs | undefined {
    return this.workloads.get(name)?.obs;
  }

  // ------------------------------------------------------------------ internals

  private storePod(pod: V1Pod): void {
    const name = pod.metadata!.name!;
    const prev = this.pods.get(name);
    const base = toPodObs(pod);
    const details = podDetails(pod);
    const e: PodEntry = { base, details, published: prev?.published, lastAt: prev?.lastAt };
    e.probe = this.nextProbe(e, prev);
    this.pods.set(name, e);
  }

  /**
   * Probe state after an update: undefined when not probed; 'failing' when not Ready; the
   * previous answer while the same incarnation stays Ready; 'unknown' for a new one.
   */
  private nextProbe(e: PodEntry, prev: PodEntry | undefined): ReadyProbe | undefined {
    const component = this.effectiveComponent(e.base);
    if (!isProbed(this.probe, component, e.details.readyProbe)) return undefined;
    if (!e.base.ready) return 'failing';
    const same =
      prev !== undefined &&
      prev.base.uid === e.base.uid &&
      prev.base.ready &&
      prev.base.readySince === e.base.readySince &&
      prev.probe !== undefined;
    return same ? prev.probe : 'unknown';
  }

  private effectiveComponent(base: PodObs): string {
    return this.workloads.get(base.workload)?.obs?.component ?? base.component;
  }

  private effectivePod(e: PodEntry): PodObs {
    const w = this.workloads.get(e.base.workload)?.obs;
    const obs: PodObs = { ...e.base };
    if (w) {
      obs.component = w.component;
      if (!obs.zone && w.zone) obs.zone = w.zone;
    }
    if (e.probe !== undefined) obs.probe = e.probe;
    return obs;
  }

  private emitPod(name: string, now: number, force: boolean, out: OutgoingMessage[]): void {
    const e = this.pods.get(name)!;
    const obs = this.effectivePod(e);
    const fp = JSON.stringify(obs);
    if (!force && fp === e.published) return;
    e.published = fp;
    e.lastAt = later(now, e.lastAt);
    out.push({
      topic: 'pods',
      key: clusterObjectKey(this.target.cluster, this.target.namespace, name),
      value: toPodStateMessage(this.target, obs, {
        resourceVersion: e.details.resourceVersion ?? '',
        observedAt: e.lastAt,
      }),
    });
  }

  /** A workload's component/zone changed (or it went away): its pods may read differently. */
  private refreshPodsOf(workload: string, now: number, out: OutgoingMessage[]): void {
    for (const [name, e] of this.pods) {
      if (e.base.workload !== workload) continue;
      const probed = isProbed(this.probe, this.effectiveComponent(e.base), e.details.readyProbe);
      if (!probed) e.probe = undefined;
      else if (e.probe === undefined) e.probe = e.base.ready ? 'unknown' : 'failing';
      this.emitPod(name, now, false, out);
    }
  }

  private storeWorkload(
    kind: WorkloadKind,
    obj: V1StatefulSet | V1Deployment,
    now: number,
    force: boolean,
    out: OutgoingMessage[],
  ): void {
    const name = obj.metadata!.name!;
    const prev = this.workloads.get(name);
    const sameKind = prev?.kind === kind;
    this.workloads.set(name, {
      kind,
      obj,
      obs: sameKind ? prev.obs : undefined,
      published: sameKind ? prev.published : undefined,
      lastAt: prev?.lastAt,
    });
    this.emitWorkload(name, now, force, out);
  }

  private refreshDeployments(now: number, force: boolean): OutgoingMessage[] {
    const out: OutgoingMessage[] = [];
    for (const [name, e] of this.workloads)
      if (e.kind === 'Deployment') this.emitWorkload(name, now, force, out);
    return out;
  }

  private emitWorkload(name: string, now: number, force: boolean, out: OutgoingMessage[]): void {
    const e = this.workloads.get(name)!;
    // Held back until the ReplicaSets were listed: the revision would be a placeholder.
    if (e.kind === 'Deployment' && !this.replicaSetsListed) return;
    const before = e.obs;
    e.obs = toWorkloadObs(e.kind, e.obj, { replicaSets: [...this.replicaSets.values()] });
    const fp = JSON.stringify(e.obs);
    if (force || fp !== e.published) {
      e.published = fp;
      e.lastAt = later(now, e.lastAt);
      out.push({
        topic: 'workloads',
        key: clusterObjectKey(this.target.cluster, this.target.namespace, name),
        value: toWorkloadStateMessage(this.target, e.obs, {
          resourceVersion: e.obj.metadata?.resourceVersion ?? '',
          observedAt: e.lastAt,
        }),
      });
    }
    if (before?.component !== e.obs.component || before?.zone !== e.obs.zone)
      this.refreshPodsOf(name, now, out);
  }

  private podTombstone(name: string): OutgoingMessage {
    return {
      topic: 'pods',
      key: clusterObjectKey(this.target.cluster, this.target.namespace, name),
      value: null,
    };
  }

  private workloadTombstone(name: string): OutgoingMessage {
    return {
      topic: 'workloads',
      key: clusterObjectKey(this.target.cluster, this.target.namespace, name),
      value: null,
    };
  }
}

/**
 * `now`, or 1 ms after the previous message of the key when the clock has not moved on (or
 * went back): two observations of one resourceVersion must differ in observedAt, or a reader
 * would take the second for a duplicate.
 */
function later(now: number, previous: number | undefined): number {
  return previous !== undefined && now <= previous ? previous + 1 : now;
}
