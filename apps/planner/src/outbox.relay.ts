/**
 * Publishes what decisions wrote to the outbox, in the order they were written, and marks it
 * sent. A crash between the database commit and the send loses nothing (the rows stay unsent
 * and are claimed again); a crash between the send and the mark repeats a send, which is
 * harmless: every command carries its id, restarts carry a uid precondition.
 *
 * Only the leader runs it: a single relay keeps each cluster's commands in order.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import { OutboxRepository } from '@ringmaster/persistence';

const BATCH = 200;
const IDLE_POLL_MS = 500;

@Injectable()
export class OutboxRelay {
  private readonly log = new Logger(OutboxRelay.name);
  private running = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  sent = 0;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly producer: Producer,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
  }

  /** New rows were committed: send them now rather than at the next poll. */
  kick(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      try {
        const n = await this.drainOnce();
        backoff = 100;
        if (n === BATCH) continue;
      } catch (e) {
        this.log.warn(
          `outbox relay: ${e instanceof Error ? e.message : e}; retrying in ${backoff} ms`,
        );
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      await this.sleep(IDLE_POLL_MS);
    }
  }

  /** Claims a batch and sends it in one request, in id order (per topic-partition order holds). */
  async drainOnce(): Promise<number> {
    const rows = await this.outbox.claimUnsent(BATCH);
    if (rows.length === 0) return 0;
    const byTopic = new Map<
      string,
      { key: string | null; value: string; headers?: Record<string, string> }[]
    >();
    for (const r of rows) {
      const list = byTopic.get(r.topic) ?? [];
      list.push({ key: r.key, value: JSON.stringify(r.payload), headers: r.headers ?? undefined });
      byTopic.set(r.topic, list);
    }
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (e) {
      await this.outbox.releaseClaim(
        rows.map((r) => r.id),
        String(e),
      );
      throw e;
    }
    await this.outbox.markSent(rows.map((r) => r.id));
    this.sent += rows.length;
    return rows.length;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
