/**
 * What the REST API and the request topic do with rollouts: validate against what is observed,
 * plan (the dry run), create, list, show, and pass pause/resume/abort to the engine. Errors are
 * RolloutRequestError with an HTTP status and the problems, each naming its field.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  createRollout,
  plan,
  targetKey,
  type PlanResult,
  type PlanTopology,
  type RolloutEvent,
  type RolloutState,
  type RolloutSpec,
} from '@ringmaster/rollout-core';
import { toRolloutSpec, type RolloutRequest } from '@ringmaster/contracts';
import {
  RolloutRepository,
  TargetBusyError,
  type InsertRolloutResult,
  type ListRolloutsFilter,
  type RolloutRecord,
} from '@ringmaster/persistence';
import { ObservedStateStore } from './observed-state.store';
import { RolloutEngine } from './rollout.engine';

export class RolloutRequestError extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 422,
    readonly problems: string[],
  ) {
    super(problems.join('; '));
  }
}

export interface CreateOptions {
  idempotencyKey?: string;
  requestId?: string;
  requestedBy?: string;
}

export type CreateResult =
  | { kind: 'dry-run'; plan: Extract<PlanResult, { ok: true }> }
  | { kind: 'created' | 'existing'; rollout: RolloutRecord; plan?: unknown };

@Injectable()
export class RolloutService {
  constructor(
    private readonly repo: RolloutRepository,
    private readonly store: ObservedStateStore,
    private readonly engine: RolloutEngine,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The plan for a request, or the problems that make it impossible (unknown targets, unsafe...). */
  plan(spec: RolloutSpec): Extract<PlanResult, { ok: true }> {
    const topology: PlanTopology = {};
    const unknown: string[] = [];
    spec.targets.forEach((t, i) => {
      const ws = this.store.workloads(targetKey(t));
      if (ws) topology[targetKey(t)] = ws;
      else unknown.push(this.describeUnknown(i, t.cluster, t.namespace));
    });
    if (unknown.length > 0) throw new RolloutRequestError(422, unknown);
    const p = plan(topology, spec);
    if (!p.ok) throw new RolloutRequestError(422, p.errors);
    return p;
  }

  async create(req: RolloutRequest, opts: CreateOptions = {}): Promise<CreateResult> {
    const spec = toRolloutSpec(req);
    if (!req.dryRun && (opts.idempotencyKey || opts.requestId)) {
      // A retried request returns what the first one created, even if the fleet changed since.
      const existing = await this.repo.findByKeys(opts);
      if (existing) return { kind: 'existing', rollout: existing };
    }
    const p = this.plan(spec);
    if (req.dryRun) return { kind: 'dry-run', plan: p };
    const now = this.clock();
    const state = createRollout(randomUUID(), spec, now);
    const { created, rollout } = await this.insertExclusive(state, {
      ...opts,
      audit: [
        {
          at: now,
          type: 'created',
          message: `requested by ${opts.requestedBy ?? 'anonymous'}`,
          data: { spec },
        },
        {
          at: now,
          type: 'planned',
          message: `ETA ${p.etaSeconds}s${p.unsafe.length ? `; UNSAFE: ${p.unsafe.join('; ')}` : ''}`,
          data: p,
        },
      ],
    });
    if (created)
      await this.engine.track(rollout.state, rollout.version, rollout.requestId ?? undefined);
    return { kind: created ? 'created' : 'existing', rollout, plan: p };
  }

  /**
   * One active rollout per target: a second request for a target whose rollout is not over is
   * refused with 409 naming that rollout (an event goes to the dead-letter topic with the same
   * reason). Two rollouts over one target would each spend the same availability budget.
   */
  private async insertExclusive(
    state: RolloutState,
    options: Parameters<RolloutRepository['insertRollout']>[1],
  ): Promise<InsertRolloutResult> {
    try {
      return await this.repo.insertRollout(state, { ...options, exclusiveTargets: true });
    } catch (e) {
      if (!(e instanceof TargetBusyError)) throw e;
      const keys = state.spec.targets.map((t) => targetKey(t));
      throw new RolloutRequestError(
        409,
        e.holders.map(
          (h) =>
            `targets.${keys.indexOf(h.target)}: ${h.target} has an active rollout ${h.rolloutId} (${h.status}); wait for it to end, or abort it`,
        ),
      );
    }
  }

  /** What the planner observes now (for per-zone progress). */
  observed() {
    return this.store.fleet;
  }

  async get(id: string): Promise<RolloutRecord> {
    const r = await this.repo.get(id); // null for an unknown or malformed id; a database error stays a 500
    if (!r) throw new RolloutRequestError(404, [`rollout ${id} not found`]);
    return r;
  }

  async planOf(id: string): Promise<unknown> {
    const events = await this.repo.events(id, { limit: 10 });
    return events.find((e) => e.type === 'planned')?.data;
  }

  list(filter: ListRolloutsFilter) {
    return this.repo.list(filter);
  }

  events(id: string, afterId?: string) {
    return this.repo.events(id, { afterId, limit: 500 });
  }

  /** pause | resume | abort. The leader decides it in the rollout's lane; elsewhere, directly. */
  async control(
    id: string,
    event: Extract<RolloutEvent, { kind: 'pause' | 'resume' | 'abort' }>,
  ): Promise<RolloutState> {
    const r = await this.get(id);
    if (['succeeded', 'failed', 'aborted'].includes(r.status)) {
      throw new RolloutRequestError(409, [
        `rollout ${id} already ended (${r.status}); nothing to ${event.kind}`,
      ]);
    }
    const viaEngine = this.engine.isRunning ? await this.engine.submit(id, event) : undefined;
    if (viaEngine) return viaEngine;
    return this.engine.decideOnce(r, event);
  }

  private describeUnknown(i: number, cluster: string, namespace: string): string {
    const clusters = this.store.clusters();
    if (!clusters.includes(cluster)) {
      return `targets.${i}.cluster: unknown cluster "${cluster}" (known: ${clusters.join(', ') || 'none yet'})`;
    }
    const nss = this.store
      .targets()
      .filter((k) => k.startsWith(`${cluster}/`))
      .map((k) => k.slice(cluster.length + 1));
    return `targets.${i}.namespace: no Mimir workloads observed in ${cluster}/${namespace} (namespaces with Mimir: ${nss.join(', ')})`;
  }
}
