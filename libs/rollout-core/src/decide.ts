/**
 * decide(): the whole rollout logic as one pure function.
 *
 *   decide(state, { event, observed }, now) -> { state, commands, status, audit, wakeAt }
 *
 * Level-triggered: every call re-reads the observed pods and workloads of the components the
 * event concerns and converges them; the event only says where to look (and carries command
 * results, pause/resume/abort). Calling it twice with the same input issues nothing new.
 * Deterministic: pods are taken in (zone, ordinal) order; no clock, no randomness.
 *
 * Worked example (decide.spec.ts repeats it): 3 ingesters RF 3, restart change.
 *   t=0   observed                 -> apply-template ingester        (OnDelete: nothing restarts)
 *   t=1   result done, gen 2       -> (waits for the controller to observe generation 2)
 *   t=2   observed rev r2          -> restart-pod ingester-0          (limit 1)
 *   t=20  ingester-0 new uid Ready -> restart-pod ingester-1          (soak 0)
 *   ...   ingester-2 back          -> status succeeded
 *
 * Ownership: decide() copies what it changes; the input state is never mutated.
 */
import {
  type AuditEntry,
  type Command,
  type ComponentState,
  type Decision,
  type DecideInput,
  type InFlight,
  type ObservedTarget,
  type PodObs,
  type RolloutEvent,
  type RolloutSpec,
  type RolloutState,
  type TargetKey,
  type TargetState,
  type WorkloadObs,
  parseTargetKey,
  targetKey,
} from './model';
import { type ComponentPolicy, resolvePolicy } from './policy';
import { podOrder } from './order';

const TERMINAL = new Set(['succeeded', 'failed', 'aborted']);

/**
 * After an executor reported a command `unreachable`, its target waits this long before the
 * command goes again (unless the watcher already says the cluster is unreachable: then until
 * it says the cluster is back).
 */
export const UNREACHABLE_RETRY_MS = 15_000;

/** A new rollout, not yet started. Targets roll in the given order, the canary first. */
export function createRollout(id: string, spec: RolloutSpec, now: number): RolloutState {
  const keys = spec.targets.map(targetKey);
  const order =
    spec.canary && keys.includes(spec.canary)
      ? [spec.canary, ...keys.filter((k) => k !== spec.canary)]
      : keys;
  const targets: Record<TargetKey, TargetState> = {};
  for (const k of order) targets[k] = { status: 'pending', components: {} };
  return { id, spec, status: 'pending', createdAt: now, seq: 1, order, targets };
}

/** Is there nothing left that decide() could do without a pause/resume/abort from outside? */
export function isSettled(state: RolloutState): boolean {
  if (TERMINAL.has(state.status)) return true;
  if (state.status !== 'blocked') return false;
  // A target blocked because its cluster is unreachable resumes by itself when it is back.
  if (Object.values(state.targets).some((t) => t.unreachable)) return false;
  return (
    !Object.values(state.targets).some(
      (t) =>
        t.status === 'running' || Object.values(t.components).some((c) => c.status === 'running'),
    ) && !canStartMore(state)
  );
}

export function decide(prev: RolloutState, input: DecideInput, now: number): Decision {
  const d = new Decider(prev, input, now);
  d.run(input.event);
  return d.result();
}

type Scope = { target?: TargetKey; component?: string } | 'all' | 'due';

class Decider {
  private readonly state: RolloutState;
  private readonly commands: Command[] = [];
  private readonly audit: AuditEntry[] = [];
  /** Objects this decision already copied (copy-on-write). */
  private readonly owned = new WeakSet<object>();
  private readonly ownedMaps = new WeakSet<object>();

  constructor(
    prev: RolloutState,
    private readonly input: DecideInput,
    private readonly now: number,
  ) {
    // Copy-on-write: the top levels are copied now, targets and components when touched.
    this.state = { ...prev, targets: { ...prev.targets } };
  }

  run(event: RolloutEvent): void {
    const s = this.state;
    if (TERMINAL.has(s.status)) return;
    if (s.status === 'pending') {
      s.status = 'running';
      s.startedAt = this.now;
      this.log('started', `rollout started over ${s.order.length} target(s)`);
    }
    let scope: Scope = 'all';
    switch (event.kind) {
      case 'pause':
        if (s.status === 'paused') return;
        s.pausedFrom = s.status;
        s.status = 'paused';
        this.log('paused', event.reason ?? 'paused by request');
        this.setDeploymentsPaused(true);
        return;
      case 'resume':
        this.resume();
        break;
      case 'abort':
        s.status = 'aborted';
        s.reason = event.reason ?? 'aborted by request';
        s.endedAt = this.now;
        this.log('aborted', s.reason);
        this.setDeploymentsPaused(true);
        return;
      case 'command-result':
        scope = this.applyResult(event);
        break;
      case 'observed':
        scope = { target: event.target, component: event.component };
        break;
      case 'tick':
        scope = 'due';
        break;
    }
    if (s.status === 'paused') return;
    this.startTargets();
    this.reconcile(scope);
    this.startTargets(); // a target that just succeeded frees a slot
    this.updateStatus();
  }

  result(): Decision {
    let wakeAt: number | undefined;
    if (!TERMINAL.has(this.state.status) && this.state.status !== 'paused') {
      for (const t of Object.values(this.state.targets)) {
        const retryAt = t.unreachable?.retryAt;
        if (retryAt !== undefined && (wakeAt === undefined || retryAt < wakeAt)) wakeAt = retryAt;
        for (const c of Object.values(t.components)) {
          if (
            c.status === 'running' &&
            c.wakeAt !== undefined &&
            (wakeAt === undefined || c.wakeAt < wakeAt)
          )
            wakeAt = c.wakeAt;
        }
      }
    }
    return {
      state: this.state,
      commands: this.commands,
      status: this.state.status,
      audit: this.audit,
      wakeAt,
    };
  }

  // ------------------------------------------------------------ helpers

  private log(type: string, message: string): void {
    this.audit.push({ at: this.now, type, message });
  }

  private nextId(): string {
    return `${this.state.id}:${this.state.seq++}`;
  }

  private target(key: TargetKey): TargetState {
    const t0 = this.state.targets[key];
    if (this.owned.has(t0)) return t0;
    const t = { ...t0, components: { ...t0.components } };
    this.owned.add(t);
    this.state.targets[key] = t;
    return t;
  }

  private component(key: TargetKey, name: string): ComponentState {
    const t = this.target(key);
    const c = t.components[name];
    if (this.owned.has(c)) return c;
    const copy: ComponentState = {
      ...c,
      workloads: Object.fromEntries(Object.entries(c.workloads).map(([k, v]) => [k, { ...v }])),
    };
    this.owned.add(copy);
    t.components[name] = copy;
    return copy;
  }

  /** inFlight and restartedUids can be large: copied only when this decision changes them. */
  private writable(c: ComponentState): ComponentState {
    if (!this.ownedMaps.has(c)) {
      c.inFlight = { ...c.inFlight };
      c.restartedUids = { ...c.restartedUids };
      this.ownedMaps.add(c);
    }
    return c;
  }

  private halt(key: TargetKey, name: string, c: ComponentState, reason: string): void {
    c.status = 'halted';
    c.reason = reason;
    this.log('halted', `${key} ${name}: ${reason}`);
  }

  // ------------------------------------------------------------ events

  private resume(): void {
    const s = this.state;
    if (s.status === 'paused') {
      s.status = s.pausedFrom ?? 'running';
      s.pausedFrom = undefined;
      this.setDeploymentsPaused(false);
    }
    // Resuming a blocked rollout retries what halted: each waiting instance gets a fresh timeout.
    for (const key of s.order) {
      const t0 = s.targets[key];
      const halted = Object.entries(t0.components).filter(([, c]) => c.status === 'halted');
      if (t0.status !== 'blocked' && halted.length === 0) continue;
      const t = this.target(key);
      if (t.status === 'blocked') {
        t.status = 'running';
        t.reason = undefined;
      }
      // An executor could not connect: try again now (the watcher's view still holds it back).
      if (t.unreachable?.retryAt !== undefined)
        t.unreachable = { ...t.unreachable, retryAt: this.now };
      for (const [name] of halted) {
        const c = this.component(key, name);
        c.status = 'running';
        c.reason = undefined;
        this.freshTimeouts(c);
      }
    }
    if (s.status === 'blocked') {
      s.status = 'running';
      s.reason = undefined;
    }
    this.log('resumed', 'resumed by request');
  }

  /** Pause (or unpause) the Deployments whose roll is under way, so a pause really stops restarts. */
  private setDeploymentsPaused(paused: boolean): void {
    for (const key of this.state.order) {
      for (const [name, c0] of Object.entries(this.state.targets[key].components)) {
        for (const [w, p] of Object.entries(c0.workloads)) {
          if (p.kind !== 'Deployment' || !p.commandId || p.done || !!p.paused === paused) continue;
          const c = this.component(key, name);
          c.workloads[w].paused = paused;
          this.commands.push({
            kind: 'set-deployment-paused',
            id: this.nextId(),
            rolloutId: this.state.id,
            target: parseTargetKey(key),
            workload: w,
            paused,
          });
        }
      }
    }
  }

  /** Every instance and workload change waited on starts its timeout again, from now. */
  private freshTimeouts(c: ComponentState): void {
    c.waitingSince = undefined;
    c.saturated = false;
    this.writable(c);
    for (const f of Object.keys(c.inFlight))
      c.inFlight[f] = { ...c.inFlight[f], issuedAt: this.now };
    for (const w of Object.values(c.workloads))
      if (w.issuedAt !== undefined) w.issuedAt = w.progressAt = this.now;
  }

  private applyResult(ev: Extract<RolloutEvent, { kind: 'command-result' }>): Scope {
    for (const key of this.state.order) {
      for (const [name, c0] of Object.entries(this.state.targets[key].components)) {
        const pod = Object.entries(c0.inFlight).find(([, f]) => f.commandId === ev.commandId)?.[0];
        const wl = Object.entries(c0.workloads).find(([, w]) => w.commandId === ev.commandId)?.[0];
        if (!pod && !wl) continue;
        const c = this.component(key, name);
        if (ev.outcome === 'unreachable') {
          // Probably nothing was done. A restart keeps its slot and goes again (same uid
          // precondition); a workload change is issued again (the same idempotent patch); both
          // once the target is reachable.
          if (pod) this.writable(c).inFlight[pod] = { ...c.inFlight[pod], resend: true };
          else c.workloads[wl!] = { kind: c.workloads[wl!].kind };
          c.saturated = false;
          this.unreachableByExecutor(key, ev.detail ?? 'the executor could not connect');
        } else if (ev.outcome === 'failed') {
          this.halt(
            key,
            name,
            c,
            `${pod ? `restart of pod ${pod}` : `change of ${wl}`} failed: ${ev.detail ?? 'no detail'}`,
          );
        } else if (pod && ev.outcome === 'refused') {
          this.writable(c).inFlight[pod] = {
            ...c.inFlight[pod],
            refused: ev.detail ?? 'refused by a PodDisruptionBudget',
          };
        } else if (wl && ev.generation !== undefined) {
          c.workloads[wl].generation = ev.generation;
        }
        return { target: key, component: name };
      }
    }
    return 'all'; // unknown id (a late result of an older decision): nothing to apply, converge anyway
  }

  // ------------------------------------------------------------ targets

  private startTargets(): void {
    const s = this.state;
    if (s.status !== 'running' && s.status !== 'blocked') return;
    while (canStartMore(s)) {
      const key = s.order.find((k) => s.targets[k].status === 'pending')!;
      const t = this.target(key);
      t.status = 'running';
      t.startedAt = this.now;
      this.log('target-started', `${key} started`);
      this.initComponents(key);
    }
  }

  /** Components come from what is observed in the target; until then the target just waits. */
  private initComponents(key: TargetKey): void {
    const obs = this.input.observed[key];
    const t = this.state.targets[key];
    if (!obs || Object.keys(t.components).length > 0) return;
    const wanted = this.state.spec.components?.length
      ? new Set(this.state.spec.components)
      : undefined;
    for (const w of sortedWorkloads(obs)) {
      if (wanted && !wanted.has(w.component)) continue;
      const c = (t.components[w.component] ??= {
        status: 'running',
        workloads: {},
        inFlight: {},
        restartedUids: {},
        restarted: 0,
        total: 0,
        maxUnavailableSeen: 0,
        wakeAt: this.now, // look at it in this very decision, whatever the event
      });
      c.workloads[w.name] = { kind: w.kind };
    }
    if (Object.keys(t.components).length === 0) {
      t.status = 'blocked';
      t.reason = wanted
        ? `none of the components ${[...wanted].join(', ')} found in ${key}`
        : `no Mimir workloads found in ${key}`;
      this.log('target-blocked', t.reason);
    }
  }

  private reconcile(scope: Scope): void {
    for (const key of this.state.order) {
      const t0 = this.state.targets[key];
      if (t0.status !== 'running' && t0.status !== 'blocked') continue;
      if (typeof scope === 'object' && scope.target !== undefined && scope.target !== key) continue;
      if (Object.keys(t0.components).length === 0) {
        this.target(key);
        this.initComponents(key);
      }
      const obs = this.input.observed[key];
      if (!obs) continue;
      if (this.holdUnreachable(key)) continue;
      for (const [name, c0] of Object.entries(this.state.targets[key].components)) {
        if (c0.status !== 'running') continue;
        if (typeof scope === 'object' && scope.component !== undefined && scope.component !== name)
          continue;
        const due = c0.wakeAt;
        if (scope === 'due' && (due === undefined || due > this.now)) continue;
        this.reconcileComponent(key, name, obs);
      }
      this.updateTarget(key);
    }
  }

  private unreachableByExecutor(key: TargetKey, detail: string): void {
    const t = this.target(key);
    t.unreachable = {
      since: t.unreachable?.since ?? this.now,
      reason: `executor: ${detail}`,
      retryAt: this.now + UNREACHABLE_RETRY_MS,
    };
  }

  /**
   * A target whose cluster cannot be reached is blocked, with the cluster and since when in
   * the reason, and left alone: nothing is released, and no timeout runs, since what is
   * observed there is only the last state seen. Why not let timeouts fire: they would block
   * it anyway, naming a pod ("not back within 600s") when the truth is that nobody can see.
   * When the cluster is back (the watcher sees it again and no executor retry is pending),
   * the target resumes by itself and everything waited on gets a fresh timeout.
   * Returns whether the target is held.
   */
  private holdUnreachable(key: TargetKey): boolean {
    const t0 = this.state.targets[key];
    const seen = this.input.observed[key]?.unreachable;
    const retryAt = t0.unreachable?.retryAt;
    const executorWaits = retryAt !== undefined && retryAt > this.now;
    const cluster = parseTargetKey(key).cluster;
    if (seen || executorWaits) {
      const since = Math.min(seen?.since ?? Infinity, t0.unreachable?.since ?? Infinity);
      // Said once per outage (the reason of the first word; since moves only earlier).
      const heldAlready =
        t0.status === 'blocked' && t0.unreachable !== undefined && t0.unreachable.since === since;
      const t = this.target(key);
      t.unreachable = {
        since,
        reason: heldAlready ? t0.unreachable!.reason : (seen?.reason ?? t0.unreachable!.reason),
        ...(executorWaits ? { retryAt } : {}),
      };
      if (!heldAlready) {
        t.status = 'blocked';
        t.reason = `cluster ${cluster} unreachable since ${new Date(since).toISOString()}: ${t.unreachable.reason}`;
        this.log('target-unreachable', `${key} blocked: ${t.reason}`);
      }
      return true;
    }
    if (!t0.unreachable) return false;
    const t = this.target(key);
    const away = Math.round((this.now - t0.unreachable.since) / 1000);
    t.unreachable = undefined;
    if (t.status === 'blocked') {
      t.status = 'running';
      t.reason = undefined;
    }
    for (const [name, c0] of Object.entries(t.components)) {
      if (c0.status !== 'running') continue;
      const c = this.component(key, name);
      this.freshTimeouts(c);
      c.wakeAt = this.now; // looked at in this decision (or the next tick, outside its scope)
    }
    this.log(
      'target-reachable',
      `${key}: cluster ${cluster} reachable again after ${away}s; resuming`,
    );
    return false;
  }

  private updateTarget(key: TargetKey): void {
    const t0 = this.state.targets[key];
    const comps = Object.entries(t0.components);
    if (comps.length === 0) return;
    const halted = comps.find(([, c]) => c.status === 'halted');
    const next = halted
      ? 'blocked'
      : comps.every(([, c]) => c.status === 'succeeded')
        ? 'succeeded'
        : 'running';
    if (next === t0.status && (!halted || t0.reason)) return;
    const t = this.target(key);
    t.status = next;
    t.reason = halted ? `${halted[0]}: ${halted[1].reason}` : undefined;
    if (next === 'succeeded') {
      t.endedAt = this.now;
      this.log('target-succeeded', `${key} succeeded`);
    } else if (next === 'blocked') {
      this.log('target-blocked', `${key} blocked: ${t.reason}`);
    }
  }

  private updateStatus(): void {
    const s = this.state;
    const targets = s.order.map((k) => [k, s.targets[k]] as const);
    if (targets.every(([, t]) => t.status === 'succeeded')) {
      s.status = 'succeeded';
      s.reason = undefined;
      s.endedAt = this.now;
      this.log('succeeded', `rollout succeeded`);
      return;
    }
    const blocked = targets.find(([, t]) => t.status === 'blocked');
    const next = blocked ? 'blocked' : 'running';
    const reason = blocked ? `${blocked[0]}: ${blocked[1].reason}` : undefined;
    if (next !== s.status || reason !== s.reason) {
      s.status = next;
      s.reason = reason;
      if (blocked) this.log('blocked', reason!);
    }
  }

  // ------------------------------------------------------------ components

  private reconcileComponent(key: TargetKey, name: string, obs: ObservedTarget): void {
    const c = this.component(key, name);
    const workloads = Object.keys(c.workloads)
      .map((w) => obs.workloads[w])
      .filter((w): w is WorkloadObs => !!w);
    if (workloads.length < Object.keys(c.workloads).length) {
      const gone = Object.keys(c.workloads).filter((w) => !obs.workloads[w]);
      return this.halt(key, name, c, `workload ${gone.join(', ')} no longer exists`);
    }
    const res = resolvePolicy(name, workloads, this.state.spec.overrides?.[name]);
    if (!res.ok) return this.halt(key, name, c, res.error);
    c.wakeAt = undefined;
    if (workloads.every((w) => w.kind === 'Deployment'))
      this.rollDeployments(key, name, c, workloads, res.policy);
    else this.rollStatefulSets(key, name, c, workloads, obs.pods[name] ?? {}, res.policy);
  }

  private wake(c: ComponentState, at: number): void {
    if (c.wakeAt === undefined || at < c.wakeAt) c.wakeAt = at;
  }

  private timeoutMs(): number {
    return this.state.spec.instanceTimeoutSeconds * 1000;
  }

  /** Deployments are rolled by their own controller, maxUnavailable at a time, one after another. */
  private rollDeployments(
    key: TargetKey,
    name: string,
    c: ComponentState,
    workloads: WorkloadObs[],
    policy: ComponentPolicy,
  ): void {
    c.total = workloads.reduce((n, w) => n + w.replicas, 0);
    let restarted = 0;
    for (const w of workloads) {
      const p = c.workloads[w.name];
      c.maxUnavailableSeen = Math.max(
        c.maxUnavailableSeen,
        w.replicas - Math.min(w.availableReplicas, w.replicas),
      );
      if (p.done) {
        restarted += w.replicas;
        continue;
      }
      if (!p.commandId) {
        p.commandId = this.nextId();
        p.issuedAt = p.progressAt = this.now;
        this.commands.push({
          kind: 'roll-deployment',
          id: p.commandId,
          rolloutId: this.state.id,
          target: parseTargetKey(key),
          workload: w.name,
          change: this.state.spec.change,
          maxUnavailable: Math.min(policy.limit, Math.max(1, w.replicas)),
          minReadySeconds: this.state.spec.soakSeconds,
        });
        this.log(
          'roll',
          `${key} ${name}: rolling Deployment ${w.name}, maxUnavailable ${policy.limit} (${policy.basis})`,
        );
        this.wake(c, this.now + this.timeoutMs());
        break;
      }
      const converged =
        p.generation !== undefined &&
        w.observedGeneration >= p.generation &&
        w.updatedReplicas >= w.replicas &&
        w.availableReplicas >= w.replicas &&
        w.statusReplicas === w.replicas;
      if (converged) {
        p.done = true;
        restarted += w.replicas;
        this.log('workload-done', `${key} ${name}: Deployment ${w.name} rolled`);
        continue;
      }
      restarted +=
        p.generation !== undefined && w.observedGeneration >= p.generation
          ? Math.min(w.updatedReplicas, w.availableReplicas)
          : 0;
      const mark = `${p.generation}/${w.observedGeneration}/${w.updatedReplicas}/${w.availableReplicas}/${w.statusReplicas}`;
      if (mark !== p.progressMark) {
        p.progressMark = mark;
        p.progressAt = this.now;
      }
      if (this.now - (p.progressAt ?? this.now) > this.timeoutMs()) {
        c.restarted = restarted;
        return this.halt(
          key,
          name,
          c,
          `Deployment ${w.name} made no progress for ${this.state.spec.instanceTimeoutSeconds}s (updated ${w.updatedReplicas}/${w.replicas}, available ${w.availableReplicas}/${w.replicas})`,
        );
      }
      this.wake(c, (p.progressAt ?? this.now) + this.timeoutMs() + 1);
      break;
    }
    c.restarted = restarted;
    if (workloads.every((w) => c.workloads[w.name].done)) this.succeed(key, name, c);
  }

  private succeed(key: TargetKey, name: string, c: ComponentState): void {
    c.status = 'succeeded';
    c.waiting = undefined;
    this.log('component-succeeded', `${key} ${name}: all ${c.total} instance(s) replaced`);
  }

  /**
   * StatefulSets: apply the change to every template first (OnDelete: nothing restarts), learn
   * the update revision, then restart pods under the limit, as a sliding window.
   */
  private rollStatefulSets(
    key: TargetKey,
    name: string,
    c: ComponentState,
    workloads: WorkloadObs[],
    pods: Record<string, PodObs>,
    policy: ComponentPolicy,
  ): void {
    const spec = this.state.spec;
    // 1. Template change on every StatefulSet of the component.
    let revisionsKnown = true;
    for (const w of workloads) {
      const p = c.workloads[w.name];
      if (w.kind === 'Deployment') {
        return this.halt(
          key,
          name,
          c,
          `component mixes a Deployment (${w.name}) with StatefulSets; roll them separately`,
        );
      }
      if (w.updateStrategy === 'RollingUpdate' && !spec.takeOver && !p.commandId) {
        // Its own controller would restart pods at its own pace, outside our limits.
        return this.halt(
          key,
          name,
          c,
          `StatefulSet ${w.name} uses updateStrategy RollingUpdate and would restart pods at its own pace; set takeOver: true to let Ringmaster switch it to OnDelete and roll it`,
        );
      }
      if (!p.commandId) {
        p.commandId = this.nextId();
        p.issuedAt = this.now;
        this.commands.push({
          kind: 'apply-template',
          id: p.commandId,
          rolloutId: this.state.id,
          target: parseTargetKey(key),
          workload: w.name,
          change: this.state.spec.change,
          takeOver: w.updateStrategy === 'RollingUpdate',
        });
      }
      if (
        p.targetRevision === undefined &&
        p.generation !== undefined &&
        w.observedGeneration >= p.generation &&
        w.updateRevision
      ) {
        p.targetRevision = w.updateRevision;
      }
      if (p.targetRevision === undefined) {
        revisionsKnown = false;
        if (this.now - (p.issuedAt ?? this.now) > this.timeoutMs()) {
          return this.halt(
            key,
            name,
            c,
            `template change of StatefulSet ${w.name} not observed within ${spec.instanceTimeoutSeconds}s`,
          );
        }
        this.wake(c, (p.issuedAt ?? this.now) + this.timeoutMs() + 1);
      }
    }
    if (!revisionsKnown) return;

    // 2. In-flight restarts: back (new uid, target revision, Ready for the soak, /ready 200)?
    const soakMs = spec.soakSeconds * 1000;
    const isBack = (p: PodObs | undefined, f: InFlight): p is PodObs =>
      !!p &&
      p.uid !== f.uid &&
      p.revision === c.workloads[p.workload]?.targetRevision &&
      p.ready &&
      !p.terminating &&
      (!policy.probeReady || p.probe === 'ok');
    let completed = 0;
    let timedOut: string | undefined;
    for (const podName in c.inFlight) {
      const f = c.inFlight[podName];
      if (f.resend) {
        // The executor could not reach the cluster last time: the same restart, a new id.
        const id = this.nextId();
        this.writable(c).inFlight[podName] = {
          commandId: id,
          uid: f.uid,
          zone: f.zone,
          issuedAt: this.now,
        };
        this.commands.push({
          kind: 'restart-pod',
          id,
          rolloutId: this.state.id,
          target: parseTargetKey(key),
          pod: podName,
          uid: f.uid,
          method: spec.restartMethod,
        });
        this.log(
          'restart',
          `${key} ${name}: restarting ${podName} again (its cluster was unreachable)`,
        );
        this.wake(c, this.now + this.timeoutMs() + 1);
        continue;
      }
      const p = pods[podName];
      if (isBack(p, f)) {
        const readyAt = p.readySince ?? this.now;
        if (readyAt + soakMs <= this.now) {
          delete this.writable(c).inFlight[podName];
          c.restarted++;
          completed++;
          continue;
        }
        this.wake(c, readyAt + soakMs);
      }
      if (
        this.now - f.issuedAt > this.timeoutMs() &&
        (timedOut === undefined || podName < timedOut)
      )
        timedOut = podName;
      this.wake(c, f.issuedAt + this.timeoutMs() + 1);
    }
    if (timedOut !== undefined) {
      const p = pods[timedOut];
      return this.halt(
        key,
        name,
        c,
        `pod ${timedOut} not back within ${spec.instanceTimeoutSeconds}s (${describe(p, c.inFlight[timedOut], policy.probeReady)})`,
      );
    }
    // Fast path: the last full look released all it could; until one of ours is back nothing
    // more may go. (A pod we did not restart recovering meanwhile is noticed at the next return:
    // a short delay, never a risk.)
    if (c.saturated && completed === 0 && Object.keys(c.inFlight).length > 0) return;

    // 3. Tally every instance by zone: down (unavailable, missing, or ours and not back yet),
    //    pending (old revision) and free (pending and already down: restarting it costs nothing).
    const zones = new Map<string, ZoneTally>();
    const tally = (z?: string) => {
      const k = z ?? '';
      let e = zones.get(k);
      if (!e)
        zones.set(k, (e = { zone: k, down: 0, downNames: [], pending: [], free: [], unsure: 0 }));
      return e;
    };
    const present: Record<string, number> = {};
    const targetRevision: Record<string, string | undefined> = {};
    for (const w of workloads) {
      tally(w.zone);
      present[w.name] = 0;
      targetRevision[w.name] = c.workloads[w.name].targetRevision;
    }
    const { inFlight, restartedUids } = c;
    const probe = policy.probeReady;
    const available = (p: PodObs) =>
      p.ready && !p.terminating && (!probe || p.probe === 'ok') && restartedUids[p.name] !== p.uid;
    // The hot loop of the planner: one pass, no sorting, no allocation per pod.
    let z: ZoneTally | undefined;
    for (const p of Object.values(pods)) {
      present[p.workload]++;
      if (!z || (p.zone ?? '') !== z.zone) z = tally(p.zone);
      const avail = available(p);
      const ours = inFlight[p.name] !== undefined;
      if (!avail || ours) countDown(z, p.name);
      if (!ours && restartedUids[p.name] !== p.uid && p.revision !== targetRevision[p.workload]) {
        if (avail) z.pending.push(p);
        // Free only when known to be down: a /ready not probed yet is not a failure, and
        // treating it as one would restart every monolithic instance at once.
        else if (!p.ready || p.terminating || p.probe === 'failing') z.free.push(p);
        else z.unsure++;
      }
    }
    for (const w of workloads) {
      const missing = w.replicas - present[w.name];
      for (let i = 0; i < missing; i++) countDown(tally(w.zone), `${w.name} (pod missing)`);
    }

    let pendingCount = 0;
    for (const z of zones.values()) pendingCount += z.pending.length + z.free.length + z.unsure;
    const inFlightCount = Object.keys(c.inFlight).length;
    c.total = c.restarted + inFlightCount + pendingCount;
    if (pendingCount === 0 && inFlightCount === 0) return this.succeed(key, name, c);

    // 4. Release under the limit.
    const released = policy.zoneAware
      ? this.releaseZoned(c, zones, policy)
      : this.releaseFlat(c, [...zones.values()], policy);
    if (released.length > 0) this.writable(c);
    for (const p of released) {
      const id = this.nextId();
      c.inFlight[p.name] = { commandId: id, uid: p.uid, zone: p.zone, issuedAt: this.now };
      c.restartedUids[p.name] = p.uid;
      this.commands.push({
        kind: 'restart-pod',
        id,
        rolloutId: this.state.id,
        target: parseTargetKey(key),
        pod: p.name,
        uid: p.uid,
        method: spec.restartMethod,
      });
      this.wake(c, this.now + this.timeoutMs() + 1);
    }
    c.saturated = Object.keys(c.inFlight).length > 0;
    if (released.length > 0) {
      c.waiting = c.waitingSince = undefined;
      this.log('restart', `${key} ${name}: restarting ${released.map((p) => p.name).join(', ')}`);
    } else if (inFlightCount === 0) {
      // Nothing in flight and nothing may go: unavailability we did not cause holds us back.
      c.waitingSince ??= this.now;
      if (this.now - c.waitingSince > this.timeoutMs()) {
        return this.halt(key, name, c, `stalled for ${spec.instanceTimeoutSeconds}s: ${c.waiting}`);
      }
      this.wake(c, c.waitingSince + this.timeoutMs() + 1);
    }
  }

  /** Non-zone-aware: already-down pending pods cost nothing; then up to limit - down more. */
  private releaseFlat(c: ComponentState, zones: ZoneTally[], policy: ComponentPolicy): PodObs[] {
    let down = 0;
    const free: PodObs[] = [];
    const pending: PodObs[] = [];
    for (const z of zones) {
      down += z.down;
      free.push(...z.free);
      pending.push(...z.pending);
    }
    const budget = policy.limit - down;
    const out = [...free.sort(podOrder), ...firstInOrder(pending, budget)];
    c.maxUnavailableSeen = Math.max(c.maxUnavailableSeen, down + out.length - free.length);
    c.waiting =
      out.length || Object.keys(c.inFlight).length
        ? undefined
        : `${down} unavailable (${zones
            .flatMap((z) => z.downNames)
            .slice(0, 5)
            .join(', ')}), limit ${policy.limit}`;
    return out;
  }

  /**
   * Zone-aware: at most `zonesAtOnce` zones disrupted; a zone starts only when every other zone
   * is fully ready, a degraded zone first; within a zone up to the per-zone limit.
   */
  private releaseZoned(
    c: ComponentState,
    byZone: Map<string, ZoneTally>,
    policy: ComponentPolicy,
  ): PodObs[] {
    const zones = [...byZone.keys()].sort();
    const disrupted = new Set(zones.filter((z) => byZone.get(z)!.down > 0));
    const out: PodObs[] = [];
    // Zones already under way keep going; then degraded zones, then the rest by name.
    const inProgress = new Set(Object.values(c.inFlight).map((f) => f.zone ?? ''));
    if (c.activeZone !== undefined) inProgress.add(c.activeZone);
    const order = [
      ...zones.filter((z) => inProgress.has(z)),
      ...zones.filter((z) => !inProgress.has(z) && disrupted.has(z)),
      ...zones.filter((z) => !inProgress.has(z) && !disrupted.has(z)),
    ];
    // Restarting a pod that is already down costs nothing, whatever its zone: always allowed.
    for (const z of order) out.push(...byZone.get(z)!.free.sort(podOrder));
    const active = new Set<string>();
    for (const z of order) {
      const e = byZone.get(z)!;
      if (e.pending.length === 0) continue;
      // Why: replicas of each series/block/tenant sit in different zones; two zones down at
      // once can lose a quorum (ingesters) or every copy (store-gateways, alertmanagers).
      const wouldDisrupt = new Set([...disrupted, ...active, z]);
      if (wouldDisrupt.size > policy.zonesAtOnce) continue;
      const more = firstInOrder(e.pending, policy.limit - e.down);
      if (more.length === 0) continue;
      active.add(z);
      out.push(...more);
      c.maxUnavailableSeen = Math.max(c.maxUnavailableSeen, e.down + more.length);
    }
    c.activeZone = [...active][0] ?? (inProgress.size === 1 ? [...inProgress][0] : c.activeZone);
    if (out.length === 0 && Object.keys(c.inFlight).length === 0) {
      const blockers = zones
        .filter((z) => disrupted.has(z))
        .map(
          (z) =>
            `${z || 'no zone'} has ${byZone.get(z)!.down} unavailable (${byZone.get(z)!.downNames.join(', ')})`,
        );
      c.waiting = blockers.length ? `waiting: ${blockers.join('; ')}` : 'waiting';
    } else {
      c.waiting = undefined;
    }
    return out;
  }
}

interface ZoneTally {
  zone: string;
  down: number;
  /** A few names of what is down, for the waiting/blocked message. */
  downNames: string[];
  pending: PodObs[];
  free: PodObs[];
  /** Pending pods whose /ready is not known yet: neither free nor releasable (counted down). */
  unsure: number;
}

function countDown(z: ZoneTally, what: string): void {
  z.down++;
  if (z.downNames.length < 3) z.downNames.push(what);
}

/** The first `n` pods in (zone, ordinal) order, without sorting all of them when n is small. */
function firstInOrder(pods: PodObs[], n: number): PodObs[] {
  if (n <= 0 || pods.length === 0) return [];
  if (n >= pods.length) return pods.sort(podOrder);
  if (n > 8) return pods.sort(podOrder).slice(0, n);
  const out: PodObs[] = [];
  const taken = new Set<PodObs>();
  for (let i = 0; i < n; i++) {
    let best: PodObs | undefined;
    for (const p of pods) if (!taken.has(p) && (!best || podOrder(p, best) < 0)) best = p;
    taken.add(best!);
    out.push(best!);
  }
  return out;
}

function canStartMore(s: RolloutState): boolean {
  const pending = s.order.filter((k) => s.targets[k].status === 'pending');
  if (pending.length === 0) return false;
  // The canary rolls alone and must succeed before anything else starts.
  if (
    s.spec.canary &&
    s.targets[s.spec.canary] &&
    s.targets[s.spec.canary].status !== 'succeeded'
  ) {
    return s.targets[s.spec.canary].status === 'pending';
  }
  const running = s.order.filter((k) => s.targets[k].status === 'running').length;
  return running < Math.max(1, s.spec.maxParallelTargets);
}

function describe(p: PodObs | undefined, f: InFlight, probe: boolean): string {
  if (f.refused) return `eviction refused: ${f.refused}`;
  if (!p) return 'not recreated';
  if (p.uid === f.uid)
    return p.terminating ? 'old pod still terminating' : 'old pod not yet evicted';
  if (!p.ready) return 'new pod not Ready';
  if (probe && p.probe !== 'ok') return `GET /ready ${p.probe ?? 'unknown'}`;
  return 'new pod not at the target revision';
}

function sortedWorkloads(obs: ObservedTarget): WorkloadObs[] {
  return Object.values(obs.workloads).sort(
    (a, b) =>
      a.component.localeCompare(b.component) ||
      (a.zone ?? '').localeCompare(b.zone ?? '') ||
      a.name.localeCompare(b.name),
  );
}
