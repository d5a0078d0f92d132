/**
 * Leadership: one planner instance at a time drives rollouts (decision loop, outbox relay, and
 * the consumers of requests and command results). Any instance serves REST.
 *
 * Why one leader for all rollouts rather than one per rollout or per partition: decisions are
 * cheap (see bench:core: thousands per CPU second), so one planner drives a large fleet, and a
 * single leader keeps each cluster's commands in one ordered stream (one outbox relay). Safety
 * does not rest on the lease alone: a decision commits only over the version it read, so even
 * two instances that both believe they lead (a lease expiring mid-step) cannot both release
 * commands for one rollout.
 *
 * The lease lives in Postgres (`leases`), renewed every third of its TTL; losing it stops the
 * leader's work at once.
 */
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { LeaseRepository } from '@ringmaster/persistence';
import type { PlannerConfig } from './planner.config';

export const LEADER_LEASE = 'planner-leader';

export interface LeaderWork {
  onLeadershipGained(): Promise<void>;
  onLeadershipLost(): Promise<void>;
}

@Injectable()
export class LeadershipService implements OnApplicationShutdown {
  private readonly log = new Logger(LeadershipService.name);
  private timer?: NodeJS.Timeout;
  private leading = false;
  private work?: LeaderWork;
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly leases: LeaseRepository,
    private readonly config: PlannerConfig,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(work: LeaderWork): void {
    this.work = work;
    void this.tick();
    this.timer = setInterval(
      () => void this.tick(),
      Math.max(200, Math.floor(this.config.leaseTtlMs / 3)),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
    if (this.leading) {
      await this.change(false);
      await this.leases.release(LEADER_LEASE, this.config.plannerId).catch(() => undefined);
    }
  }

  private tick(): Promise<void> {
    this.busy = this.busy.then(async () => {
      let acquired = false;
      try {
        acquired = (
          await this.leases.tryAcquire(LEADER_LEASE, this.config.plannerId, this.config.leaseTtlMs)
        ).acquired;
      } catch (e) {
        this.log.warn(`lease: ${e instanceof Error ? e.message : e}`);
      }
      if (acquired !== this.leading) await this.change(acquired);
    });
    return this.busy;
  }

  private async change(lead: boolean): Promise<void> {
    this.leading = lead;
    this.log.log(
      lead
        ? `${this.config.plannerId} is now the leader`
        : `${this.config.plannerId} lost leadership`,
    );
    try {
      await (lead ? this.work?.onLeadershipGained() : this.work?.onLeadershipLost());
    } catch (e) {
      this.log.error(`leadership change: ${e instanceof Error ? e.stack : e}`);
      if (lead) {
        this.leading = false;
        await this.work?.onLeadershipLost().catch(() => undefined);
      }
    }
  }
}
