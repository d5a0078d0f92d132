/**
 * An independent observer for e2e tests and the demo. It trusts nothing of Ringmaster: its own
 * KubeConfig, its own list+watch (plain @kubernetes/client-node, not libs/kube), its own
 * reading of labels, and its own limits from the seed's rules. It records, at every watch
 * event, how many instances of each component (and zone) are unavailable, and every pod
 * deletion, so a test can assert: no limit exceeded at any observed instant, and every pod
 * replaced exactly once.
 *
 * Limits (Mimir's rolling-update guide): monolithic 1; ingester 1; store-gateway and
 * alertmanager 2; other StatefulSets 1; Deployments 25% of replicas (at least 1); zone-aware
 * components one zone at a time, at most `rollout-max-unavailable` of it.
 */
import * as k8s from '@kubernetes/client-node';

interface Workload {
  kind: 'StatefulSet' | 'Deployment';
  name: string;
  component: string;
  zone?: string;
  replicas: number;
  maxPerZone?: number;
}

interface PodSeen {
  uid: string;
  name: string;
  component: string;
  zone?: string;
  workload?: string;
  ready: boolean;
  terminating: boolean;
}

export interface Violation {
  at: number;
  component: string;
  what: string;
}

export interface ObserverReport {
  /** component -> highest unavailable count seen. */
  maxUnavailable: Record<string, number>;
  /** component -> highest number of zones with unavailable instances at once. */
  maxZonesDisrupted: Record<string, number>;
  violations: Violation[];
  /** StatefulSet pod name -> deletions seen. */
  deletions: Record<string, number>;
  /**
   * StatefulSet pod name -> those of its deletions that were forced (isForcedDeletion). Their
   * unavailability still counts in the limits.
   */
  forced: Record<string, number>;
  /** StatefulSet pod name -> when each deletion was seen (epoch ms) and of which uid. */
  deletedAt: Record<string, { at: number; uid: string }[]>;
  /** Pods (uids) that existed at start and were deleted. */
  originalsDeleted: number;
  originals: number;
  /** Pods whose replacement was observed Ready, in order. */
  events: number;
}

function limitOf(
  component: string,
  ws: Workload[],
): { limit: number; zones: number; perZone: number } {
  const zoned = new Set(ws.map((w) => w.zone).filter(Boolean)).size > 1;
  const n = ws.reduce((s, w) => s + w.replicas, 0);
  if (zoned) {
    const cap = Math.min(...ws.map((w) => w.maxPerZone ?? Infinity));
    return { limit: Infinity, zones: 1, perZone: cap };
  }
  if (['mimir', 'all', 'monolithic', 'ingester', 'compactor'].includes(component))
    return { limit: 1, zones: Infinity, perZone: Infinity };
  if (component === 'store-gateway' || component === 'alertmanager')
    return { limit: 2, zones: Infinity, perZone: Infinity };
  if (ws.every((w) => w.kind === 'Deployment'))
    return { limit: Math.max(1, Math.floor(n / 4)), zones: Infinity, perZone: Infinity };
  return { limit: 1, zones: Infinity, perZone: Infinity };
}

/** Observers started and not stopped yet (stopObservers ends them after a failed test). */
const RUNNING = new Set<AvailabilityObserver>();

/**
 * Stops every observer still watching. A test that failed before its own stop() left the watch
 * open and Jest never exited (CI, never-ready e2e); the e2e and chaos lanes call this in a
 * global afterAll (test/support/observers.teardown.ts).
 */
export function stopObservers(): void {
  for (const o of [...RUNNING]) o.stop();
}

/**
 * A deletion with no grace period (deletionGracePeriodSeconds 0 or absent on the terminating or
 * deleted pod). Ringmaster never makes one (evictions and its deletes keep the pod's grace
 * period); kwok v0.8.0 does when it replays its delete stage for a name the StatefulSet
 * controller has already recreated (by name, grace 0, no uid precondition).
 */
export function isForcedDeletion(p: k8s.V1Pod): boolean {
  return !p.metadata?.deletionGracePeriodSeconds;
}

/**
 * StatefulSet pod name -> deletions that were not kwok's forced ones: the restarts a rollout
 * made, which a test expects to be exactly one per pod.
 *   deletions {a: 2, b: 1}, forced {a: 1}  ->  {a: 1, b: 1}
 */
export function restartsSeen(report: ObserverReport): Record<string, number> {
  return Object.fromEntries(
    Object.entries(report.deletions).map(([pod, n]) => [pod, n - (report.forced[pod] ?? 0)]),
  );
}

export class AvailabilityObserver {
  private readonly kc = new k8s.KubeConfig();
  private readonly workloads: Workload[] = [];
  private readonly pods = new Map<string, PodSeen>(); // uid -> pod
  private readonly originals = new Set<string>();
  private readonly deletedUids = new Set<string>();
  private readonly report: ObserverReport = {
    maxUnavailable: {},
    maxZonesDisrupted: {},
    violations: [],
    deletions: {},
    forced: {},
    deletedAt: {},
    originalsDeleted: 0,
    originals: 0,
    events: 0,
  };
  private readonly violating = new Set<string>();
  private abort?: AbortController;
  private stopped = false;

  constructor(
    kubeconfig: string,
    context: string,
    private readonly namespace: string,
    private readonly components?: string[],
  ) {
    this.kc.loadFromFile(kubeconfig);
    this.kc.setCurrentContext(context);
  }

  async start(): Promise<void> {
    RUNNING.add(this);
    const apps = this.kc.makeApiClient(k8s.AppsV1Api);
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const labelOf = (m?: k8s.V1ObjectMeta) =>
      m?.labels?.['app.kubernetes.io/component'] ?? m?.labels?.['rollout-group'] ?? m?.name ?? '?';
    for (const s of (await apps.listNamespacedStatefulSet({ namespace: this.namespace })).items) {
      const perZone = Number(s.metadata?.annotations?.['rollout-max-unavailable']);
      this.workloads.push({
        kind: 'StatefulSet',
        name: s.metadata!.name!,
        component: labelOf(s.metadata),
        zone: s.metadata?.labels?.zone,
        replicas: s.spec?.replicas ?? 1,
        maxPerZone: Number.isFinite(perZone) && perZone > 0 ? perZone : undefined,
      });
    }
    for (const d of (await apps.listNamespacedDeployment({ namespace: this.namespace })).items) {
      this.workloads.push({
        kind: 'Deployment',
        name: d.metadata!.name!,
        component: labelOf(d.metadata),
        replicas: d.spec?.replicas ?? 1,
      });
    }
    const list = await core.listNamespacedPod({ namespace: this.namespace });
    for (const p of list.items) {
      const seen = this.toSeen(p);
      this.pods.set(seen.uid, seen);
      this.originals.add(seen.uid);
    }
    this.report.originals = this.originals.size;
    this.watch(list.metadata?.resourceVersion);
  }

  private watch(resourceVersion?: string): void {
    if (this.stopped) return;
    void new k8s.Watch(this.kc)
      .watch(
        `/api/v1/namespaces/${this.namespace}/pods`,
        { resourceVersion, allowWatchBookmarks: true },
        (type: string, obj: k8s.V1Pod) => {
          if (type === 'BOOKMARK') {
            resourceVersion = obj.metadata?.resourceVersion;
            return;
          }
          resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
          this.onEvent(type, obj);
        },
        () => setTimeout(() => this.watch(resourceVersion), 100),
      )
      .then((a) => {
        this.abort = a;
        if (this.stopped) a.abort();
      })
      .catch(() => setTimeout(() => this.watch(resourceVersion), 500));
  }

  stop(): ObserverReport {
    RUNNING.delete(this);
    this.stopped = true;
    this.abort?.abort();
    this.report.originalsDeleted = [...this.originals].filter((u) =>
      this.deletedUids.has(u),
    ).length;
    return this.snapshot();
  }

  snapshot(): ObserverReport {
    return JSON.parse(JSON.stringify(this.report)) as ObserverReport;
  }

  private toSeen(p: k8s.V1Pod): PodSeen {
    const ready =
      p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    const owner = p.metadata?.ownerReferences?.[0];
    return {
      uid: p.metadata!.uid!,
      name: p.metadata!.name!,
      component:
        p.metadata?.labels?.['app.kubernetes.io/component'] ??
        p.metadata?.labels?.['rollout-group'] ??
        '?',
      zone: p.metadata?.labels?.zone,
      workload: owner?.kind === 'StatefulSet' ? owner.name : undefined,
      ready,
      terminating: !!p.metadata?.deletionTimestamp,
    };
  }

  private onEvent(type: string, obj: k8s.V1Pod): void {
    const seen = this.toSeen(obj);
    const prev = this.pods.get(seen.uid);
    const becameDeleted = type === 'DELETED' || (seen.terminating && !prev?.terminating);
    if (becameDeleted && !this.deletedUids.has(seen.uid)) {
      this.deletedUids.add(seen.uid);
      if (seen.workload) {
        this.report.deletions[seen.name] = (this.report.deletions[seen.name] ?? 0) + 1;
        (this.report.deletedAt[seen.name] ??= []).push({ at: Date.now(), uid: seen.uid });
        if (isForcedDeletion(obj))
          this.report.forced[seen.name] = (this.report.forced[seen.name] ?? 0) + 1;
      }
    }
    if (type === 'DELETED') this.pods.delete(seen.uid);
    else this.pods.set(seen.uid, seen);
    this.report.events++;
    this.measure(seen.component);
  }

  /** Unavailable = desired replicas minus pods that are Ready and not terminating. */
  private measure(component: string): void {
    if (this.components && !this.components.includes(component)) return;
    const ws = this.workloads.filter((w) => w.component === component);
    if (ws.length === 0) return;
    const { limit, zones, perZone } = limitOf(component, ws);
    const serving = new Map<string, number>();
    for (const p of this.pods.values()) {
      if (p.component !== component || !p.ready || p.terminating) continue;
      serving.set(p.zone ?? '', (serving.get(p.zone ?? '') ?? 0) + 1);
    }
    const byZone = new Map<string, number>();
    for (const w of ws) byZone.set(w.zone ?? '', (byZone.get(w.zone ?? '') ?? 0) + w.replicas);
    let total = 0;
    let disrupted = 0;
    let worstZone = 0;
    for (const [z, want] of byZone) {
      const down = Math.max(0, want - (serving.get(z) ?? 0));
      total += down;
      if (down > 0) disrupted++;
      worstZone = Math.max(worstZone, down);
    }
    this.report.maxUnavailable[component] = Math.max(
      this.report.maxUnavailable[component] ?? 0,
      total,
    );
    this.report.maxZonesDisrupted[component] = Math.max(
      this.report.maxZonesDisrupted[component] ?? 0,
      disrupted,
    );
    const problems: string[] = [];
    if (total > limit) problems.push(`${total} unavailable > ${limit}`);
    if (disrupted > zones) problems.push(`${disrupted} zones disrupted at once`);
    if (worstZone > perZone) problems.push(`${worstZone} unavailable in one zone > ${perZone}`);
    for (const what of problems) {
      const key = `${component}|${what}`;
      if (!this.violating.has(key))
        this.report.violations.push({ at: Date.now(), component, what });
      this.violating.add(key);
    }
    if (problems.length === 0)
      for (const k of [...this.violating])
        if (k.startsWith(`${component}|`)) this.violating.delete(k);
  }
}
