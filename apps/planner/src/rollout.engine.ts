/**
 * The decision loop: for every input (an observation, a command result, a timer, an operator's
 * pause/resume/abort) it loads the rollout, calls the core's decide(), and persists the new
 * state, one audit row per step and one outbox row per command (and per status change) in a
 * single transaction. The outbox relay then publishes them. Load, decide, persist, publish.
 *
 * - Inputs of one rollout are handled one at a time, in arrival order (a promise chain each).
 * - Observations are batched: the first after a quiet spell is decided at once, then at most
 *   one decision per `batchMs` for that rollout (decide() is level-triggered, so a batch loses
 *   nothing).
 * - A decision on observations or timers alone that issues nothing, logs nothing and changes no
 *   status is kept in memory and written at the latest a few seconds later: after a crash,
 *   decide() recomputes it from what it observes. A command result or an operator action is
 *   always written before it is acknowledged (see isLevelTriggered): it exists only in its
 *   message, and the consumer commits the message's offset once the handler returns.
 * - Every decision that issues commands also audits them: one `commands` entry naming each
 *   command (id, kind, pod or workload), written with the outbox rows, so the trail of a rollout
 *   shows every command it released (and the chaos lane can check none went missing).
 * - Saves are optimistic (the version read must still be current). A conflict means another
 *   planner (e.g. a REST call served elsewhere) moved the rollout: reload and decide again.
 *   This is why two planners can never both release commands for one rollout: commands only
 *   leave through a committed decision, and only one decision per version can commit.
 */
import { Injectable, Logger } from '@nestjs/common';
import {
  decide,
  isSettled,
  type Command,
  type RolloutEvent,
  type RolloutState,
} from '@ringmaster/rollout-core';
import {
  commandKey,
  toCommandMessage,
  toRolloutStatusMessage,
  type TopicNames,
} from '@ringmaster/contracts';
import {
  RolloutRepository,
  RolloutVersionConflictError,
  type AuditRecordInput,
  type OutboxMessage,
  type RolloutRecord,
} from '@ringmaster/persistence';
import { ObservedStateStore, type ObservedChange } from './observed-state.store';
import { OutboxRelay } from './outbox.relay';
import type { PlannerConfig } from './planner.config';

/**
 * Inputs whose effect decide() re-derives from the observed state after a crash (observations,
 * timer ticks): a decision on them alone may stay in memory for a while. A command result (the
 * generation a template change produced, say) is seen once: its offset is committed when the
 * handler returns, so a result kept only in memory by a planner that then dies is gone, and the
 * component waits for it until its timeout (found by the chaos lane: planner SIGKILLed seconds
 * after a store-gateway template change was reported).
 */
export function isLevelTriggered(event: RolloutEvent): boolean {
  return event.kind === 'observed' || event.kind === 'tick';
}

/** Unsaved in-memory progress is written at least this often. */
const LAZY_SAVE_MS = 5_000;
/** A level-triggered decision that failed to save is decided again after 250 ms, doubling to 5 s. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;
const MAX_CONFLICT_RETRIES = 5;

interface Entry {
  state: RolloutState;
  version: number;
  requestId?: string;
  /** Promise chain: one input at a time per rollout. */
  lane: Promise<unknown>;
  dirty: Map<string, ObservedChange>;
  flushAt?: number;
  lastObservedDecision: number;
  unsavedSince?: number;
  timer?: NodeJS.Timeout;
  timerAt?: number;
  /** Level-triggered inputs whose decision could not be saved, decided again at `retryTimer`. */
  retry: Map<string, RolloutEvent>;
  retryTimer?: NodeJS.Timeout;
  /** Failed saves in a row (the retry's backoff). */
  failures: number;
}

export type Clock = () => number;

@Injectable()
export class RolloutEngine {
  private readonly log = new Logger(RolloutEngine.name);
  private readonly entries = new Map<string, Entry>();
  private running = false;
  private adoptTimer?: NodeJS.Timeout;

  constructor(
    private readonly repo: RolloutRepository,
    private readonly store: ObservedStateStore,
    private readonly relay: OutboxRelay,
    private readonly topics: TopicNames,
    private readonly config: PlannerConfig,
    private readonly clock: Clock = Date.now,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Leader only: resume every active rollout from Postgres, and keep adopting new ones. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.adoptActive();
    // Rollouts created by another planner instance (REST served there) are picked up here.
    this.adoptTimer = setInterval(
      () => void this.adoptActive().catch((e) => this.log.warn(`adopt: ${e}`)),
      2_000,
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.adoptTimer);
    const lanes = [...this.entries.values()].map((e) => {
      clearTimeout(e.timer);
      clearTimeout(e.retryTimer);
      return e.lane.catch(() => undefined);
    });
    this.entries.clear();
    await Promise.all(lanes);
  }

  /** Observations changed: every active rollout touching those targets gets a (batched) look. */
  onObserved(changes: ObservedChange[]): void {
    if (!this.running) return;
    for (const [id, e] of this.entries) {
      for (const ch of changes) {
        if (!(ch.target in e.state.targets)) continue;
        e.dirty.set(`${ch.target}|${ch.component ?? ''}`, ch);
      }
      if (e.dirty.size > 0) this.scheduleFlush(id, e);
    }
  }

  /** A command result, an operator action: decided now, in the rollout's lane. */
  async submit(rolloutId: string, event: RolloutEvent): Promise<RolloutState | undefined> {
    const e = this.entries.get(rolloutId) ?? (await this.adopt(rolloutId));
    if (!e) return undefined;
    return this.enqueue(rolloutId, e, [event]);
  }

  /** Start driving a rollout just created (on this instance). */
  async track(state: RolloutState, version: number, requestId?: string): Promise<void> {
    if (!this.running || this.entries.has(state.id)) return;
    const e = this.newEntry(state, version, requestId);
    this.entries.set(state.id, e);
    await this.enqueue(state.id, e, [{ kind: 'tick' }]);
  }

  activeCount(): number {
    return this.entries.size;
  }

  // ------------------------------------------------------------------ internals

  private newEntry(state: RolloutState, version: number, requestId?: string): Entry {
    return {
      state,
      version,
      requestId,
      lane: Promise.resolve(),
      dirty: new Map(),
      lastObservedDecision: -Infinity,
      retry: new Map(),
      failures: 0,
    };
  }

  private async adoptActive(): Promise<void> {
    if (!this.running) return;
    for (const r of await this.repo.listActive()) {
      if (this.entries.has(r.id) || !this.running) continue;
      const e = this.newEntry(r.state, r.version, r.requestId ?? undefined);
      this.entries.set(r.id, e);
      this.log.log(`resuming rollout ${r.id} (${r.status})`);
      void this.enqueue(r.id, e, fullLook(r.state));
    }
  }

  private async adopt(id: string): Promise<Entry | undefined> {
    if (!this.running) return undefined;
    const r = await this.repo.get(id);
    if (!r || isSettled(r.state)) return undefined;
    const e = this.entries.get(id) ?? this.newEntry(r.state, r.version, r.requestId ?? undefined);
    this.entries.set(id, e);
    return e;
  }

  private scheduleFlush(id: string, e: Entry): void {
    if (e.flushAt !== undefined) return;
    const now = this.clock();
    e.flushAt = Math.max(now, e.lastObservedDecision + this.config.batchMs);
    setTimeout(() => {
      e.flushAt = undefined;
      e.lastObservedDecision = this.clock();
      const events: RolloutEvent[] = [...e.dirty.values()].map((c) => ({
        kind: 'observed',
        target: c.target,
        component: c.component,
      }));
      e.dirty.clear();
      void this.enqueue(id, e, events);
    }, e.flushAt - now);
  }

  private enqueue(id: string, e: Entry, events: RolloutEvent[]): Promise<RolloutState | undefined> {
    const run = e.lane.then(() => this.step(id, e, events));
    e.lane = run.then(
      () => {
        e.failures = 0;
      },
      (err) => {
        this.log.error(`rollout ${id}: ${err instanceof Error ? err.stack : err}`);
        this.retryLater(id, e, events);
      },
    );
    return run;
  }

  /**
   * A decision on observations or ticks that could not be saved (Postgres away, a reset
   * connection) is decided again after a backoff. Without this, the batch was gone with the
   * failure: nothing looked at those components again until their next observation or their
   * timeout (found by the chaos lane: two components of a rollout waited out their 120 s
   * timeout after a reset of the planner's Postgres connection). Command results and operator
   * actions are retried by whoever sent them (the consumer does not commit, REST answers 5xx).
   */
  private retryLater(id: string, e: Entry, events: RolloutEvent[]): void {
    const level = events.filter(isLevelTriggered);
    if (level.length === 0 || !this.running || this.entries.get(id) !== e) return;
    for (const ev of level) e.retry.set(JSON.stringify(ev), ev);
    if (e.retryTimer) return;
    const ms = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** e.failures++);
    e.retryTimer = setTimeout(() => {
      e.retryTimer = undefined;
      const again = [...e.retry.values()];
      e.retry.clear();
      if (this.entries.get(id) === e) void this.enqueue(id, e, again);
    }, ms);
  }

  /**
   * An operator action on an instance that is not the leader: load, decide, save (optimistic).
   * The leader notices at its next save (version conflict), reloads and goes on from there.
   */
  async decideOnce(r: RolloutRecord, event: RolloutEvent): Promise<RolloutState> {
    const e = this.newEntry(r.state, r.version, r.requestId ?? undefined);
    return (await this.commit(r.id, e, [event], 0, false)) ?? e.state;
  }

  private step(id: string, e: Entry, events: RolloutEvent[]): Promise<RolloutState | undefined> {
    if (this.entries.get(id) !== e) return Promise.resolve(undefined); // stopped or replaced meanwhile
    return this.commit(id, e, events, 0, true);
  }

  /** Decide on each event in turn; persist once for the batch. */
  private async commit(
    id: string,
    e: Entry,
    events: RolloutEvent[],
    attempt: number,
    tracked: boolean,
  ): Promise<RolloutState | undefined> {
    const before = e.state;
    const now = this.clock();
    const commands: Command[] = [];
    const audit: AuditRecordInput[] = [];
    let state = e.state;
    let wakeAt: number | undefined;
    for (const event of events) {
      const d = decide(state, { event, observed: this.store.fleet }, now);
      state = d.state;
      commands.push(...d.commands);
      audit.push(...d.audit);
      wakeAt = d.wakeAt;
    }
    if (commands.length > 0) audit.push(commandsAudit(commands, now));
    const statusChanged = state.status !== before.status || state.reason !== before.reason;
    const mustSave =
      commands.length > 0 ||
      audit.length > 0 ||
      statusChanged ||
      isSettled(state) ||
      !events.every(isLevelTriggered);
    if (tracked && !mustSave && now - (e.unsavedSince ?? now) < LAZY_SAVE_MS) {
      e.unsavedSince ??= now;
      e.state = state;
      this.arm(
        id,
        e,
        wakeAt === undefined ? now + LAZY_SAVE_MS : Math.min(wakeAt, now + LAZY_SAVE_MS),
      );
      return state;
    }
    {
      const outbox: OutboxMessage[] = commands.map((c) => ({
        topic: this.topics.commands,
        key: commandKey(c),
        payload: toCommandMessage(c, now),
        headers: { 'ringmaster-rollout-id': id, 'ringmaster-command-id': c.id },
      }));
      if (statusChanged) {
        outbox.push({
          topic: this.topics.status,
          key: id,
          payload: toRolloutStatusMessage(state, now, e.requestId),
        });
      }
      try {
        const saved = await this.repo.saveDecision({
          rolloutId: id,
          expectedVersion: e.version,
          state,
          audit,
          outbox,
        });
        e.version = saved.version;
      } catch (err) {
        if (!(err instanceof RolloutVersionConflictError) || attempt >= MAX_CONFLICT_RETRIES)
          throw err;
        // Someone else moved it: take theirs and decide again (level-triggered, nothing lost).
        const fresh = await this.repo.get(id);
        if (!fresh) return undefined;
        e.state = fresh.state;
        e.version = fresh.version;
        return this.commit(id, e, events, attempt + 1, tracked);
      }
      e.state = state;
      e.unsavedSince = undefined;
      if (outbox.length > 0) this.relay.kick();
    }
    if (!tracked) return state;
    if (isSettled(state) && state.status !== 'blocked') {
      this.log.log(`rollout ${id} ended: ${state.status}`);
      clearTimeout(e.timer);
      this.entries.delete(id);
    } else if (wakeAt !== undefined) {
      this.arm(id, e, wakeAt);
    }
    return state;
  }

  /** One timer per rollout, at the earliest time decide() asked to look again. */
  private arm(id: string, e: Entry, at: number): void {
    if (e.timer && e.timerAt !== undefined && e.timerAt <= at && e.timerAt > this.clock()) return;
    clearTimeout(e.timer);
    e.timerAt = at;
    e.timer = setTimeout(
      () => {
        e.timer = e.timerAt = undefined;
        void this.enqueue(id, e, [{ kind: 'tick' }]);
      },
      Math.max(0, at - this.clock()),
    );
  }
}

/**
 * What a rollout picked up from Postgres (a restart, a new leader) is decided on: every one of
 * its targets as observed now. A tick alone would look only at components whose timer is due,
 * and what changed while no planner led (a restarted pod back, a Deployment rolled) waited for
 * the next observation of that component or for its timeout (seen while reading the chaos
 * lane's lease losses to Postgres cuts; the unit test shows it).
 */
export function fullLook(state: RolloutState): RolloutEvent[] {
  return [
    { kind: 'tick' },
    ...state.order.map((target) => ({ kind: 'observed' as const, target })),
  ];
}

/**
 * The audit entry of the commands one decision released, e.g.
 *   { type: 'commands', message: 'issued 2 command(s): r1:7 restart-pod kwok-1/mimir/ingester-zone-a-0, r1:8 ...',
 *     data: { commands: [{ id: 'r1:7', kind: 'restart-pod', target: 'kwok-1/mimir', pod: 'ingester-zone-a-0' }, ...] } }
 */
export function commandsAudit(commands: Command[], now: number): AuditRecordInput {
  const items = commands.map((c) => ({
    id: c.id,
    kind: c.kind,
    target: `${c.target.cluster}/${c.target.namespace}`,
    ...(c.kind === 'restart-pod' ? { pod: c.pod, uid: c.uid } : { workload: c.workload }),
  }));
  const shown = items
    .slice(0, 20)
    .map((c) => `${c.id} ${c.kind} ${c.target}/${'pod' in c ? c.pod : c.workload}`);
  return {
    at: now,
    type: 'commands',
    message: `issued ${items.length} command(s): ${shown.join(', ')}${items.length > 20 ? ', ...' : ''}`,
    data: { commands: items },
  };
}
