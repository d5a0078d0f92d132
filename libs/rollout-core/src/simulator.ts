/**
 * A discrete-event simulator of a Mimir fleet under a rollout, in virtual time (seeded).
 *
 * It runs the real decide() against a model of Kubernetes: an OnDelete StatefulSet controller
 * that recreates an evicted pod at the update revision, a Deployment controller that replaces
 * pods maxUnavailable at a time, kubelets that make pods Ready after a sampled delay, an HTTP
 * `/ready` probe, a health watcher whose observations arrive late, twice, out of order or not
 * at all (re-lists repair the view), executors whose commands may be duplicated, and PDBs that
 * refuse evictions for a while. Faults: instances that never come back, crash loops,
 * unavailability present before the rollout, pause/resume/abort at any moment.
 *
 * An independent observer records unavailability per component and zone at every instant
 * from the simulated world itself (never from the rollout state) and judges it against limits
 * it computes on its own from the seed's rules: see {@link expectedLimits}.
 */
import { decide as realDecide, createRollout, isSettled } from './decide';
import type {
  Command,
  DecideInput,
  Decision,
  ObservedFleet,
  ObservedTarget,
  PodObs,
  RolloutEvent,
  RolloutSpec,
  RolloutState,
  TargetKey,
  TargetRef,
  UpdateStrategy,
  WorkloadKind,
  WorkloadObs,
} from './model';
import { targetKey } from './model';
import { EventQueue, Rng } from './random';

export interface SimWorkload {
  name: string;
  kind: WorkloadKind;
  component: string;
  zone?: string;
  replicas: number;
  updateStrategy?: UpdateStrategy;
  replicationFactor?: number;
  maxUnavailablePerZone?: number;
}

export interface SimTarget {
  target: TargetRef;
  workloads: SimWorkload[];
}

/** Durations in virtual ms; `jitter` spreads uniformly around `mean`. */
export interface Spread {
  mean: number;
  jitter: number;
}

export interface SimFaults {
  /** Probability an observation is delivered twice / arrives late (reordered) / is lost. */
  duplicate?: number;
  reorder?: number;
  drop?: number;
  /** Probability a command reaches an executor twice. */
  duplicateCommand?: number;
  /** Probability an eviction is first refused by a PDB (the executor retries). */
  pdbRefusal?: number;
  /** Pods (`<target>/<pod>`) whose replacement never becomes Ready. */
  neverReady?: string[];
  /** Probability a replaced pod crash-loops after becoming Ready. */
  crashLoop?: number;
  /** Pods (`<target>/<pod>`) unavailable before the rollout starts (not caused by it). */
  preUnavailable?: string[];
  /** Operator actions at virtual times. */
  controls?: { at: number; event: Extract<RolloutEvent, { kind: 'pause' | 'resume' | 'abort' }> }[];
}

export interface SimConfig {
  seed: number;
  rolloutId?: string;
  targets: SimTarget[];
  spec: RolloutSpec;
  /** Delete -> gone. */
  terminate?: Spread;
  /** Gone -> recreated by the controller (StatefulSet) / created (Deployment). */
  create?: Spread;
  /** Created -> Ready. */
  ready?: Spread;
  /** Created -> Ready, per component (overrides `ready`). */
  readyByComponent?: Record<string, number>;
  /** How often the watcher probes `/ready` (the first answer for a running pod comes within it). */
  probeIntervalMs?: number;
  /** Ready -> `GET /ready` 200. */
  probe?: Spread;
  /** Watch event -> planner. */
  observe?: Spread;
  /** Planner -> executor -> result back (each way). */
  command?: Spread;
  /** The planner decides on observations in batches: at most one decision per this window. */
  batchMs?: number;
  /** Full re-list period of the watcher (repairs dropped events). */
  relistEveryMs?: number;
  faults?: SimFaults;
  /** Give up after this much virtual time (a run that does not end is a failure). */
  horizonMs?: number;
  /** Hook to measure or wrap decide() (the benchmark times it). */
  decide?: (state: RolloutState, input: DecideInput, now: number) => Decision;
}

export interface Violation {
  at: number;
  target: TargetKey;
  component: string;
  zone?: string;
  what: string;
}

export interface Release {
  at: number;
  target: TargetKey;
  component: string;
  zone?: string;
  pods: string[];
  /** Deployment rolls: the workload and how many pods it holds. */
  workload?: string;
}

export interface SimResult {
  state: RolloutState;
  ended: boolean;
  /** Virtual ms from start to the last decision. */
  makespanMs: number;
  decisions: number;
  commands: number;
  violations: Violation[];
  /** `<target>/<pod slot>` -> times Ringmaster's restarts deleted it (StatefulSets). */
  restarts: Record<string, number>;
  /** StatefulSet pod slots that had to be restarted (old revision at start). */
  targeted: string[];
  /** Deployments whose pods are all at the new revision at the end. */
  deploymentsRolled: string[];
  deployments: string[];
  /** Highest unavailable count per `<target>/<component>` seen by the observer. */
  maxUnavailable: Record<string, number>;
  /** Batches as the planner released them (for plans/ETA). */
  releases: Release[];
  /** `<target>|<component>` -> virtual ms at which it succeeded. */
  componentEnds: Record<string, number>;
}

interface Pod {
  name: string;
  uid: string;
  workload: string;
  component: string;
  zone?: string;
  revision: string;
  ready: boolean;
  readySince?: number;
  terminating: boolean;
  probe: 'ok' | 'failing' | 'unknown';
  rv: number;
  /** Unavailable before the rollout: not Ringmaster's doing until it restarts the pod. */
  external: boolean;
  /** Deleted by a restart while it was available: counts against the limit until back. */
  caused: boolean;
  neverReady: boolean;
  crashLoop: boolean;
}

interface Workload extends SimWorkload {
  generation: number;
  observedGeneration: number;
  updateRevision: string;
  revisionSeq: number;
  paused: boolean;
  maxUnavailable: number;
  minReadyMs: number;
  /** The controller's next look (a pod reaching minReadySeconds). */
  wakeAt?: number;
  rv: number;
}

interface World {
  key: TargetKey;
  workloads: Map<string, Workload>;
  pods: Map<string, Pod>;
  /** StatefulSet slots between deletion and re-creation: was the deleted pod available? */
  gone: Map<string, boolean>;
  /** Pods by workload (an index: the observer and controllers look at one workload at a time). */
  byWorkload: Map<string, Set<Pod>>;
}

type Ev = () => void;

/** The health watcher's default `/ready` probe interval (RINGMASTER_READY_PROBE_INTERVAL_MS). */
const DEFAULT_PROBE_INTERVAL_MS = 1_000;

/** The planner's default decision batching window (see apps/planner). */
export const DEFAULT_BATCH_MS = 250;

const DEFAULTS = {
  terminate: { mean: 1_000, jitter: 0 },
  create: { mean: 500, jitter: 0 },
  ready: { mean: 20_000, jitter: 5_000 },
  probe: { mean: 1_000, jitter: 0 },
  observe: { mean: 100, jitter: 50 },
  command: { mean: 50, jitter: 25 },
};

/**
 * The limits the observer enforces, from the seed's rules alone (independent of policy.ts):
 * monolithic 1; ingester 1 (RF 3; RF 5: 2); store-gateway and alertmanager 2; other
 * StatefulSets 1; Deployments 25% (at least 1); zone-aware: one zone, up to its cap.
 */
export function expectedLimits(workloads: SimWorkload[]): {
  perZone: number;
  zones: number;
  limit: number;
  probe: boolean;
} {
  const c = workloads[0].component;
  const zones = new Set(workloads.map((w) => w.zone).filter(Boolean));
  const n = workloads.reduce((s, w) => s + w.replicas, 0);
  const rf = workloads[0].replicationFactor ?? 3;
  const monolithic = c === 'mimir' || c === 'all' || c === 'monolithic';
  if (zones.size > 1) {
    const cap = Math.min(...workloads.map((w) => w.maxUnavailablePerZone ?? Infinity));
    return { perZone: cap, zones: 1, limit: Infinity, probe: monolithic };
  }
  let limit = 1;
  if (c === 'ingester')
    limit = rf === 5 ? 2 : rf === 3 ? 1 : Math.max(1, rf - (Math.floor(rf / 2) + 1));
  else if (c === 'store-gateway' || c === 'alertmanager') limit = Math.max(1, rf - 1);
  else if (!monolithic && workloads.every((w) => w.kind === 'Deployment'))
    limit = Math.max(1, Math.floor(n / 4));
  return { perZone: Infinity, zones: Infinity, limit, probe: monolithic };
}

export function simulate(cfg: SimConfig): SimResult {
  return new Simulation(cfg).run();
}

class Simulation {
  private readonly rng: Rng;
  private readonly q = new EventQueue<Ev>();
  private now = 0;
  private rv = 1;
  private uidSeq = 1;
  private readonly worlds = new Map<TargetKey, World>();
  private readonly view: ObservedFleet = {};
  private readonly viewRv = new Map<string, number>();
  private state: RolloutState;
  private readonly decideFn: NonNullable<SimConfig['decide']>;
  private decisions = 0;
  private commandCount = 0;
  private lastDecisionAt = 0;
  private tickAt: number | undefined;
  private readonly dirty = new Map<string, { target: TargetKey; component?: string }>();
  private readonly lastDecidedAt = new Map<string, number>();
  private readonly seenCommands = new Set<string>();
  private readonly lastDelivery = new Map<TargetKey, number>();
  private readonly restarts: Record<string, number> = {};
  private readonly targeted: string[] = [];
  private readonly violations: Violation[] = [];
  private readonly violating = new Set<string>();
  private readonly maxUnavailable: Record<string, number> = {};
  private readonly releases: Release[] = [];
  private readonly componentEnds: Record<string, number> = {};
  private readonly limits = new Map<string, ReturnType<typeof expectedLimits>>();
  private readonly faults: SimFaults;

  constructor(private readonly cfg: SimConfig) {
    this.rng = new Rng(cfg.seed);
    this.faults = cfg.faults ?? {};
    this.decideFn = cfg.decide ?? realDecide;
    this.state = createRollout(cfg.rolloutId ?? 'sim', cfg.spec, 0);
    const never = new Set(this.faults.neverReady ?? []);
    const pre = new Set(this.faults.preUnavailable ?? []);
    for (const t of cfg.targets) {
      const key = targetKey(t.target);
      const world: World = {
        key,
        workloads: new Map(),
        pods: new Map(),
        gone: new Map(),
        byWorkload: new Map(),
      };
      this.worlds.set(key, world);
      const byComponent = new Map<string, SimWorkload[]>();
      for (const w of t.workloads) {
        world.workloads.set(w.name, {
          ...w,
          generation: 1,
          observedGeneration: 1,
          updateRevision: `${w.name}-r1`,
          revisionSeq: 1,
          paused: false,
          maxUnavailable: 1,
          minReadyMs: 0,
          rv: this.rv++,
        });
        byComponent.set(w.component, [...(byComponent.get(w.component) ?? []), w]);
        for (let i = 0; i < w.replicas; i++) {
          const name = w.kind === 'StatefulSet' ? `${w.name}-${i}` : `${w.name}-r1-${i}`;
          const slot = `${key}/${name}`;
          const down = pre.has(slot);
          this.putPod(world, {
            name,
            uid: `u${this.uidSeq++}`,
            workload: w.name,
            component: w.component,
            zone: w.zone,
            revision: `${w.name}-r1`,
            ready: !down,
            readySince: down ? undefined : -3_600_000, // Ready long before the rollout
            terminating: false,
            probe: down ? 'failing' : 'ok',
            rv: this.rv++,
            external: down,
            caused: false,
            neverReady: never.has(slot),
            crashLoop: false,
          });
          if (w.kind === 'StatefulSet' && this.inScope(w.component)) this.targeted.push(slot);
        }
      }
      for (const [c, ws] of byComponent) this.limits.set(`${key}/${c}`, expectedLimits(ws));
      // /ready is unknown until the watcher's first probe of each pod, within one probe interval.
      for (const p of world.pods.values()) {
        if (!this.limits.get(`${key}/${p.component}`)!.probe || p.external) continue;
        p.probe = 'unknown';
        this.q.push(this.rng.next() * (cfg.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS), () => {
          if (world.pods.get(p.name) !== p || p.probe !== 'unknown') return;
          p.probe = 'ok';
          p.rv = this.rv++;
          this.emitPod(world, p);
        });
      }
      // The watcher's initial list.
      this.view[key] = { workloads: {}, pods: {} };
      for (const w of world.workloads.values())
        this.applyWorkloadObs(key, this.workloadObs(world, w));
      for (const p of world.pods.values()) this.applyPodObs(key, this.podObs(p), p.rv, false);
      this.observeAll(world);
    }
    for (const c of this.faults.controls ?? []) this.q.push(c.at, () => this.decideNow(c.event));
    if (cfg.relistEveryMs) this.q.push(cfg.relistEveryMs, () => this.relist());
  }

  private inScope(component: string): boolean {
    const cs = this.cfg.spec.components;
    return !cs?.length || cs.includes(component);
  }

  run(): SimResult {
    const horizon = this.cfg.horizonMs ?? 24 * 3600_000;
    // A runaway model (an event that keeps rescheduling itself) ends the run instead of the process.
    let budget =
      50 *
      (1 +
        this.targeted.length +
        this.cfg.targets.reduce((n, t) => n + t.workloads.reduce((m, w) => m + w.replicas, 0), 0)) *
      100;
    this.decideNow({ kind: 'tick' });
    for (;;) {
      if (isSettled(this.state) && this.quiet()) break;
      const e = this.q.pop();
      if (!e || e.at > horizon || --budget < 0) break;
      this.now = e.at;
      e.item();
    }
    const rolled: string[] = [];
    const deployments: string[] = [];
    for (const w of this.worlds.values()) {
      for (const wl of w.workloads.values()) {
        if (wl.kind !== 'Deployment' || !this.inScope(wl.component)) continue;
        deployments.push(`${w.key}/${wl.name}`);
        const pods = [...w.pods.values()].filter((p) => p.workload === wl.name);
        if (
          pods.length === wl.replicas &&
          pods.every((p) => p.revision === wl.updateRevision && wl.revisionSeq > 1)
        ) {
          rolled.push(`${w.key}/${wl.name}`);
        }
      }
    }
    return {
      state: this.state,
      ended: isSettled(this.state),
      makespanMs: this.lastDecisionAt,
      decisions: this.decisions,
      commands: this.commandCount,
      violations: this.violations,
      restarts: this.restarts,
      targeted: this.targeted,
      deploymentsRolled: rolled,
      deployments,
      maxUnavailable: this.maxUnavailable,
      releases: this.releases,
      componentEnds: this.componentEnds,
    };
  }

  /** Nothing the rollout started is still moving in the world (so the observer saw it all). */
  private quiet(): boolean {
    for (const w of this.worlds.values()) {
      for (const p of w.pods.values()) if (p.terminating) return false;
    }
    return true;
  }

  private after(delay: number, fn: Ev): void {
    this.q.push(this.now + Math.max(0, delay), fn);
  }

  private sample(s: Spread | undefined, d: Spread): number {
    const x = s ?? d;
    return Math.max(0, this.rng.around(x.mean, x.jitter));
  }

  // ------------------------------------------------------------ planner shell

  private decideNow(event: RolloutEvent): void {
    const d = this.decideFn(this.state, { event, observed: this.view }, this.now);
    this.decisions++;
    this.state = d.state;
    if (d.commands.length > 0 || event.kind !== 'tick') this.lastDecisionAt = this.now;
    if (isSettled(this.state)) this.lastDecisionAt = Math.max(this.lastDecisionAt, this.now);
    this.recordReleases(d.commands);
    for (const [key, t] of Object.entries(this.state.targets)) {
      for (const [name, c] of Object.entries(t.components)) {
        if (c.status === 'succeeded') this.componentEnds[`${key}|${name}`] ??= this.now;
      }
    }
    for (const c of d.commands) this.send(c);
    if (
      d.wakeAt !== undefined &&
      (this.tickAt === undefined || d.wakeAt < this.tickAt || this.tickAt < this.now)
    ) {
      const at = Math.max(d.wakeAt, this.now);
      this.tickAt = at;
      this.q.push(at, () => {
        if (this.tickAt === at) this.tickAt = undefined;
        this.decideNow({ kind: 'tick' });
      });
    }
  }

  private recordReleases(commands: Command[]): void {
    const groups = new Map<string, Release>();
    for (const c of commands) {
      const key = targetKey(c.target);
      const world = this.worlds.get(key)!;
      if (c.kind === 'restart-pod') {
        const p = world.pods.get(c.pod);
        const g = `${key}|${p?.component}|${p?.zone ?? ''}`;
        const r = groups.get(g) ?? {
          at: this.now,
          target: key,
          component: p?.component ?? '?',
          zone: p?.zone,
          pods: [],
        };
        r.pods.push(c.pod);
        groups.set(g, r);
      } else if (c.kind === 'roll-deployment') {
        const w = world.workloads.get(c.workload)!;
        this.releases.push({
          at: this.now,
          target: key,
          component: w.component,
          pods: [],
          workload: w.name,
        });
      }
    }
    this.releases.push(...groups.values());
  }

  /**
   * Observations are decided in batches, as the planner does: the first after a quiet spell at
   * once, then at most one decision per `batchMs` per component.
   */
  private markDirty(target: TargetKey, component?: string): void {
    const k = `${target}|${component ?? ''}`;
    if (this.dirty.has(k)) return;
    this.dirty.set(k, { target, component });
    const window = this.cfg.batchMs ?? DEFAULT_BATCH_MS;
    const at = Math.max(this.now, (this.lastDecidedAt.get(k) ?? -Infinity) + window);
    this.q.push(at, () => {
      this.dirty.delete(k);
      this.lastDecidedAt.set(k, this.now);
      this.decideNow({ kind: 'observed', target, component });
    });
  }

  /** Commands of one cluster reach executors in order (Kafka: key = cluster, one partition). */
  private send(c: Command): void {
    this.commandCount++;
    const key = targetKey(c.target);
    const at = Math.max(
      this.now + this.sample(this.cfg.command, DEFAULTS.command),
      (this.lastDelivery.get(key) ?? 0) + 1e-3,
    );
    this.lastDelivery.set(key, at);
    this.q.push(at, () => this.execute(c));
    // A redelivery (after a rebalance) comes right behind the original, still in order.
    if (this.rng.chance(this.faults.duplicateCommand ?? 0))
      this.q.push(at + 2e-4, () => this.execute(c));
  }

  private report(
    commandId: string,
    outcome: 'done' | 'already-done' | 'refused' | 'failed',
    generation?: number,
    detail?: string,
  ): void {
    this.after(this.sample(this.cfg.command, DEFAULTS.command), () =>
      this.decideNow({ kind: 'command-result', commandId, outcome, generation, detail }),
    );
  }

  // ------------------------------------------------------------ executor + controllers

  private execute(c: Command): void {
    const world = this.worlds.get(targetKey(c.target))!;
    const again = this.seenCommands.has(c.id);
    this.seenCommands.add(c.id);
    switch (c.kind) {
      case 'apply-template':
      case 'roll-deployment': {
        const w = world.workloads.get(c.workload)!;
        // Idempotent: the same change applied twice makes no new generation.
        if (!again) {
          w.generation++;
          w.revisionSeq++;
          if (c.kind === 'roll-deployment') {
            w.maxUnavailable = c.maxUnavailable;
            w.minReadyMs = c.minReadySeconds * 1000;
          }
          w.rv = this.rv++;
          this.emitWorkload(world, w);
          this.after(200, () => {
            w.observedGeneration = w.generation;
            w.updateRevision = `${w.name}-r${w.revisionSeq}`;
            w.rv = this.rv++;
            this.emitWorkload(world, w);
            if (w.kind === 'Deployment') this.deploymentController(world, w);
          });
        }
        this.report(c.id, 'done', w.generation);
        return;
      }
      case 'set-deployment-paused': {
        const w = world.workloads.get(c.workload)!;
        w.paused = c.paused;
        w.rv = this.rv++;
        this.emitWorkload(world, w);
        if (!c.paused) this.deploymentController(world, w);
        this.report(c.id, 'done', w.generation);
        return;
      }
      case 'restart-pod': {
        const p = world.pods.get(c.pod);
        // The uid precondition: a pod already replaced is never touched again.
        if (!p || p.uid !== c.uid || p.terminating) return this.report(c.id, 'already-done');
        if (!again && this.rng.chance(this.faults.pdbRefusal ?? 0)) {
          this.report(
            c.id,
            'refused',
            undefined,
            "Cannot evict pod as it would violate the pod's disruption budget.",
          );
          this.after(2_000 + this.rng.int(0, 2_000), () => this.execute(c));
          return;
        }
        const slot = `${world.key}/${p.name}`;
        this.restarts[slot] = (this.restarts[slot] ?? 0) + 1;
        this.deletePod(world, p, this.available(world, p));
        this.report(c.id, 'done');
        return;
      }
    }
  }

  private putPod(world: World, p: Pod): void {
    world.pods.set(p.name, p);
    let set = world.byWorkload.get(p.workload);
    if (!set) world.byWorkload.set(p.workload, (set = new Set()));
    set.add(p);
  }

  private podsOf(world: World, workload: string): Iterable<Pod> {
    return world.byWorkload.get(workload) ?? [];
  }

  private available(world: World, p: Pod): boolean {
    const lim = this.limits.get(`${world.key}/${p.component}`)!;
    return p.ready && !p.terminating && (!lim.probe || p.probe === 'ok');
  }

  private deletePod(world: World, p: Pod, wasAvailable: boolean): void {
    p.terminating = true;
    p.ready = false;
    p.caused = wasAvailable && !p.external;
    p.external = false;
    p.rv = this.rv++;
    this.emitPod(world, p);
    this.check(world, p.component);
    this.after(this.sample(this.cfg.terminate, DEFAULTS.terminate), () => {
      world.pods.delete(p.name);
      world.byWorkload.get(p.workload)!.delete(p);
      this.emitTombstone(world, p);
      const w = world.workloads.get(p.workload)!;
      if (w.kind === 'StatefulSet') {
        world.gone.set(p.name, p.caused);
        // The StatefulSet controller recreates the pod, at the update revision.
        this.after(this.sample(this.cfg.create, DEFAULTS.create), () =>
          this.createPod(world, w, p.name, p.caused),
        );
      } else {
        this.check(world, p.component);
        this.deploymentController(world, w);
      }
    });
  }

  private createPod(world: World, w: Workload, name: string, caused: boolean): void {
    const slot = `${world.key}/${name}`;
    const p: Pod = {
      name,
      uid: `u${this.uidSeq++}`,
      workload: w.name,
      component: w.component,
      zone: w.zone,
      revision: w.updateRevision,
      ready: false,
      terminating: false,
      probe: 'failing',
      rv: this.rv++,
      external: false,
      caused,
      neverReady: (this.faults.neverReady ?? []).includes(slot),
      crashLoop: this.rng.chance(this.faults.crashLoop ?? 0),
    };
    this.putPod(world, p);
    world.gone.delete(name);
    this.emitPod(world, p);
    this.check(world, p.component);
    if (p.neverReady) return;
    const fixed = this.cfg.readyByComponent?.[p.component];
    this.after(fixed ?? this.sample(this.cfg.ready, DEFAULTS.ready), () =>
      this.becomeReady(world, p),
    );
  }

  private becomeReady(world: World, p: Pod): void {
    if (world.pods.get(p.name) !== p || p.terminating) return;
    p.ready = true;
    p.readySince = this.now;
    p.rv = this.rv++;
    this.emitPod(world, p);
    this.after(this.sample(this.cfg.probe, DEFAULTS.probe), () => {
      if (world.pods.get(p.name) !== p || !p.ready) return;
      p.probe = 'ok';
      p.rv = this.rv++;
      if (this.available(world, p)) p.caused = false;
      this.emitPod(world, p);
      this.check(world, p.component);
      if (p.crashLoop) {
        // CrashLoopBackOff: down a while, then Ready again, a few times.
        this.after(5_000, () => {
          if (world.pods.get(p.name) !== p) return;
          p.crashLoop = false;
          p.ready = false;
          p.probe = 'failing';
          p.rv = this.rv++;
          this.emitPod(world, p);
          this.check(world, p.component);
          this.after(10_000, () => this.becomeReady(world, p));
        });
      }
    });
    if (this.available(world, p)) p.caused = false;
    this.check(world, p.component);
    const w = world.workloads.get(p.workload)!;
    if (w.kind === 'Deployment') this.deploymentController(world, w);
  }

  /** ReplicaSet/Deployment controller with maxSurge 0: replace old pods maxUnavailable at a time. */
  private deploymentController(world: World, w: Workload): void {
    if (w.paused || w.observedGeneration < w.generation) return;
    const pods = [...this.podsOf(world, w.name)];
    const live = pods.filter((p) => !p.terminating);
    // Scale up the new ReplicaSet to replace what is gone.
    for (let i = live.length; i < w.replicas; i++) {
      const name = `${w.updateRevision}-${this.uidSeq}`;
      this.createPod(world, w, name, true);
    }
    // A pod counts as available once Ready for minReadySeconds; look again when one gets there.
    const availableNow = (p: Pod) =>
      p.ready && this.now >= (p.readySince ?? Infinity) + w.minReadyMs;
    const next = Math.min(
      ...live.filter((p) => p.ready && !availableNow(p)).map((p) => p.readySince! + w.minReadyMs),
    );
    if (
      Number.isFinite(next) &&
      !(w.wakeAt !== undefined && w.wakeAt > this.now && w.wakeAt <= next)
    ) {
      w.wakeAt = next;
      this.q.push(next, () => {
        if (w.wakeAt === next) w.wakeAt = undefined;
        this.deploymentController(world, w);
      });
    }
    const unavailable = w.replicas - live.filter(availableNow).length;
    let budget = w.maxUnavailable - unavailable;
    const old = live
      .filter((p) => p.revision !== w.updateRevision)
      .sort((a, b) => Number(availableNow(a)) - Number(availableNow(b)));
    for (const p of old) {
      // Unavailable old pods go first and cost nothing, as the real controller does.
      if (availableNow(p) && budget <= 0) break;
      if (availableNow(p)) budget--;
      this.deletePod(world, p, p.ready);
    }
    w.rv = this.rv++;
    this.emitWorkload(world, w);
  }

  // ------------------------------------------------------------ health watcher

  private podObs(p: Pod): PodObs {
    return {
      name: p.name,
      uid: p.uid,
      workload: p.workload,
      component: p.component,
      zone: p.zone,
      revision: p.revision,
      ready: p.ready && !p.terminating,
      readySince: p.readySince,
      terminating: p.terminating || undefined,
      probe: p.probe,
    };
  }

  private workloadObs(world: World, w: Workload): WorkloadObs {
    let statusReplicas = 0;
    let ready = 0;
    let updated = 0;
    for (const p of this.podsOf(world, w.name)) {
      if (p.terminating) continue;
      statusReplicas++;
      if (p.ready) ready++;
      if (p.revision === w.updateRevision) updated++;
    }
    return {
      name: w.name,
      kind: w.kind,
      component: w.component,
      zone: w.zone,
      updateStrategy: w.updateStrategy ?? (w.kind === 'StatefulSet' ? 'OnDelete' : 'RollingUpdate'),
      replicas: w.replicas,
      generation: w.generation,
      observedGeneration: w.observedGeneration,
      updateRevision: w.updateRevision,
      statusReplicas,
      readyReplicas: ready,
      availableReplicas: ready,
      updatedReplicas: updated,
      replicationFactor: w.replicationFactor,
      maxUnavailablePerZone: w.maxUnavailablePerZone,
      paused: w.paused,
    };
  }

  /** One watch event on its way to the planner, through the faults. */
  private deliver(apply: () => void): void {
    if (this.rng.chance(this.faults.drop ?? 0)) return;
    const late = this.rng.chance(this.faults.reorder ?? 0) ? 2_000 : 0;
    this.after(this.sample(this.cfg.observe, DEFAULTS.observe) + late, apply);
    if (this.rng.chance(this.faults.duplicate ?? 0))
      this.after(this.sample(this.cfg.observe, DEFAULTS.observe) + 500, apply);
  }

  private emitPod(world: World, p: Pod): void {
    const obs = this.podObs(p);
    const rv = p.rv;
    this.deliver(() => {
      if (this.applyPodObs(world.key, obs, rv, false)) this.markDirty(world.key, obs.component);
    });
    const w = world.workloads.get(p.workload)!;
    w.rv = this.rv++;
    this.emitWorkload(world, w);
  }

  private emitTombstone(world: World, p: Pod): void {
    const obs = this.podObs(p);
    const rv = this.rv++;
    this.deliver(() => {
      if (this.applyPodObs(world.key, obs, rv, true)) this.markDirty(world.key, obs.component);
    });
    const w = world.workloads.get(p.workload)!;
    w.rv = this.rv++;
    this.emitWorkload(world, w);
  }

  private emitWorkload(world: World, w: Workload): void {
    const obs = this.workloadObs(world, w);
    const rv = w.rv;
    this.deliver(() => {
      if ((this.viewRv.get(`${world.key}/w/${w.name}`) ?? 0) >= rv) return;
      this.viewRv.set(`${world.key}/w/${w.name}`, rv);
      this.applyWorkloadObs(world.key, obs);
      this.markDirty(world.key, obs.component);
    });
  }

  private observeAll(world: World): void {
    for (const w of world.workloads.values()) this.viewRv.set(`${world.key}/w/${w.name}`, w.rv);
  }

  /** The planner's materializer: newer resourceVersions win; a tombstone removes the pod. */
  private applyPodObs(key: TargetKey, obs: PodObs, rv: number, tombstone: boolean): boolean {
    const rk = `${key}/p/${obs.name}`;
    if ((this.viewRv.get(rk) ?? 0) >= rv) return false;
    this.viewRv.set(rk, rv);
    const t = this.view[key] as ObservedTarget;
    const byComp = (t.pods[obs.component] ??= {});
    if (tombstone) {
      if (byComp[obs.name]?.uid === obs.uid) delete byComp[obs.name];
    } else {
      byComp[obs.name] = obs;
    }
    return true;
  }

  private applyWorkloadObs(key: TargetKey, obs: WorkloadObs): void {
    (this.view[key] as ObservedTarget).workloads[obs.name] = obs;
  }

  /** Periodic re-list: the watcher re-reads everything, which repairs lost events. */
  private relist(): void {
    for (const world of this.worlds.values()) {
      const pods = [...world.pods.values()].map((p) => ({ obs: this.podObs(p), rv: p.rv }));
      const workloads = [...world.workloads.values()].map((w) => ({
        obs: this.workloadObs(world, w),
        rv: w.rv,
      }));
      const listRv = this.rv++;
      this.after(this.sample(this.cfg.observe, DEFAULTS.observe), () => {
        const t = this.view[world.key] as ObservedTarget;
        const present = new Set(pods.map((p) => p.obs.name));
        for (const comp of Object.keys(t.pods)) {
          for (const name of Object.keys(t.pods[comp])) {
            const rk = `${world.key}/p/${name}`;
            if (!present.has(name) && (this.viewRv.get(rk) ?? 0) < listRv) {
              delete t.pods[comp][name];
              this.viewRv.set(rk, listRv);
            }
          }
        }
        for (const p of pods) this.applyPodObs(world.key, p.obs, p.rv, false);
        for (const w of workloads) {
          const rk = `${world.key}/w/${w.obs.name}`;
          if ((this.viewRv.get(rk) ?? 0) < w.rv) {
            this.viewRv.set(rk, w.rv);
            this.applyWorkloadObs(world.key, w.obs);
          }
        }
        this.markDirty(world.key);
      });
    }
    if (!isSettled(this.state)) this.after(this.cfg.relistEveryMs!, () => this.relist());
  }

  // ------------------------------------------------------------ observer

  /** Counts unavailability in one component of the real (simulated) world and judges it. */
  private check(world: World, component: string): void {
    const k = `${world.key}/${component}`;
    const lim = this.limits.get(k);
    if (!lim) return;
    const names = new Map<string, { zone?: string; caused: boolean; down: boolean }>();
    for (const w of world.workloads.values()) {
      if (w.component !== component || w.kind !== 'StatefulSet') continue;
      // A StatefulSet slot with no pod is down; whether we caused it is remembered on the pod.
      for (let i = 0; i < w.replicas; i++)
        names.set(`${w.name}-${i}`, { zone: w.zone, caused: false, down: true });
    }
    // Deployments: what counts is how many of the desired replicas serve (maxSurge 0).
    let deploymentDown = 0;
    for (const w of world.workloads.values()) {
      if (w.component !== component || w.kind !== 'Deployment') continue;
      let serving = 0;
      for (const p of this.podsOf(world, w.name)) if (this.available(world, p)) serving++;
      deploymentDown += Math.max(0, w.replicas - serving);
    }
    const statefulPods = [...world.workloads.values()]
      .filter((w) => w.component === component && w.kind === 'StatefulSet')
      .flatMap((w) => [...this.podsOf(world, w.name)]);
    for (const p of statefulPods) {
      const down = !this.available(world, p);
      const caused = down && p.caused;
      if (p.terminating && names.has(p.name)) {
        names.set(p.name, { zone: p.zone, caused, down: true });
      } else {
        names.set(p.name, { zone: p.zone, caused, down });
      }
    }
    // A slot whose pod is gone counts as caused if we deleted it while it served.
    for (const [n, caused] of world.gone)
      if (names.has(n) && !world.pods.has(n)) names.get(n)!.caused = caused;
    let down = deploymentDown;
    let caused = deploymentDown;
    const zonesDown = new Map<string, number>();
    for (const s of names.values()) {
      if (!s.down) continue;
      down++;
      if (s.caused) caused++;
      zonesDown.set(s.zone ?? '', (zonesDown.get(s.zone ?? '') ?? 0) + 1);
    }
    this.maxUnavailable[k] = Math.max(this.maxUnavailable[k] ?? 0, down);
    const problems: string[] = [];
    if (caused > 0) {
      if (down > lim.limit) problems.push(`${down} unavailable > limit ${lim.limit}`);
      if (zonesDown.size > lim.zones)
        problems.push(
          `${zonesDown.size} zones disrupted at once (${[...zonesDown.keys()].join(', ')})`,
        );
      for (const [z, n] of zonesDown)
        if (n > lim.perZone) problems.push(`${n} unavailable in ${z} > ${lim.perZone}`);
    }
    for (const what of problems) {
      const id = `${k}|${what.replace(/\d+/g, '#')}`;
      if (this.violating.has(id)) continue;
      this.violating.add(id);
      this.violations.push({ at: this.now, target: world.key, component, what });
    }
    if (problems.length === 0)
      for (const id of [...this.violating]) if (id.startsWith(`${k}|`)) this.violating.delete(id);
  }
}
