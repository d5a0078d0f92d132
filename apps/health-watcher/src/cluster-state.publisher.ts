/**
 * The queue between the watches and Kafka: coalesces observations into batches, sends them in
 * order, and never drops one while the process lives.
 *
 *   publish(messages)  appends to the queue (never blocks a watch handler); the first message
 *                      after a quiet spell waits `lingerMs` (default 50) so a burst (a re-list
 *                      of 1,000 pods, a zone restarting) leaves as a few large batches;
 *   drain loop         one batch in flight at a time (at most `maxBatch` messages, in queue
 *                      order), so messages of a key reach their partition in the order they
 *                      were observed, retries included;
 *   send error         retried with exponential backoff (jittered) until it succeeds, whatever
 *                      its class: a retriable one is Kafka being away, a permanent one is
 *                      logged as an error and surfaces on /readyz, since skipping the batch
 *                      would leave readers with a wrong picture of the cluster. A retried batch
 *                      may land twice: harmless on a compacted topic (the same state again);
 *   long outage        when the queue passes `compactAbove` messages it is compacted to the
 *                      newest message per key (order of those kept), which is all a compacted
 *                      topic keeps anyway; memory stays bounded by the number of objects.
 *
 * `flush(timeoutMs)` waits until the queue is empty (shutdown, tests); `close()` flushes, then
 * stops retrying.
 */
import { backoffDelay, sleep, type BackoffOptions } from '@ringmaster/kube';
import { classifyError, errorReason } from '@ringmaster/messaging';
import type { PublishedMessage } from './target-reachability.tracker';

/** Where batches go (Kafka in the service; a function in unit tests). */
export interface StateSink {
  send(batch: readonly PublishedMessage[]): Promise<void>;
  /** False while the sink can't send yet (connecting): the publisher waits quietly. */
  ready?(): boolean;
}

export interface PublisherLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface PublisherOptions {
  lingerMs?: number;
  maxBatch?: number;
  compactAbove?: number;
  backoff?: BackoffOptions;
  logger?: PublisherLogger;
  random?: () => number;
  now?: () => number;
}

export interface PublisherStats {
  pending: number;
  sent: number;
  batches: number;
  failures: number;
  compactions: number;
  /** Epoch ms of the first failure of the batch now being retried; absent when healthy. */
  failingSince?: number;
  lastError?: string;
}

const SEND_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10_000, factor: 2 };

export class ClusterStatePublisher {
  private queue: PublishedMessage[] = [];
  private inFlight: readonly PublishedMessage[] = [];
  private timer: NodeJS.Timeout | undefined;
  private draining: Promise<void> | undefined;
  private readonly stopSignal = new AbortController();
  private readonly waiters: Array<() => void> = [];
  private readonly counters = { sent: 0, batches: 0, failures: 0, compactions: 0 };
  private failingSince: number | undefined;
  private lastError: string | undefined;
  private readonly lingerMs: number;
  private readonly maxBatch: number;
  private readonly compactAbove: number;
  /** Compaction threshold now: doubles when a compaction could not get below it (many keys). */
  private compactAt: number;

  constructor(
    private readonly sink: StateSink,
    private readonly opts: PublisherOptions = {},
  ) {
    this.lingerMs = opts.lingerMs ?? 50;
    this.maxBatch = opts.maxBatch ?? 500;
    this.compactAbove = opts.compactAbove ?? 50_000;
    this.compactAt = this.compactAbove;
  }

  publish(messages: readonly PublishedMessage[]): void {
    if (messages.length === 0) return;
    this.queue.push(...messages);
    if (this.queue.length > this.compactAt) this.compact();
    this.schedule();
  }

  stats(): PublisherStats {
    const s: PublisherStats = {
      pending: this.queue.length + this.inFlight.length,
      ...this.counters,
    };
    if (this.failingSince !== undefined) s.failingSince = this.failingSince;
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  /** Resolves true once the queue is empty (everything sent), false after `timeoutMs`. */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    if (this.idle()) return true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.startDrain();
    }
    let timeout: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => this.waiters.push(() => resolve(true)));
    const expired = new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => resolve(false), timeoutMs);
    });
    const ok = await Promise.race([done, expired]);
    clearTimeout(timeout);
    return ok;
  }

  /**
   * Flushes (up to `timeoutMs`), then stops retrying. Returns how many messages were left
   * unsent (0 normally); the next watcher's first list publishes their state again.
   */
  async close(timeoutMs = 10_000): Promise<number> {
    await this.flush(timeoutMs);
    this.stopSignal.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.draining;
    const left = this.queue.length + this.inFlight.length;
    this.queue = [];
    this.inFlight = [];
    return left;
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inFlight.length === 0 && !this.draining;
  }

  private schedule(): void {
    if (this.stopSignal.signal.aborted || this.timer || this.draining) return;
    if (this.lingerMs === 0) return this.startDrain();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startDrain();
    }, this.lingerMs);
  }

  private startDrain(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0 && !this.stopSignal.signal.aborted) this.schedule();
      else if (this.queue.length === 0) this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async drain(): Promise<void> {
    const random = this.opts.random ?? Math.random;
    const now = this.opts.now ?? Date.now;
    while (this.queue.length > 0 && !this.stopSignal.signal.aborted) {
      this.inFlight = this.queue.splice(0, this.maxBatch);
      let attempt = 0;
      while (!this.stopSignal.signal.aborted) {
        if (this.sink.ready && !this.sink.ready()) {
          await sleep(100, this.stopSignal.signal);
          continue;
        }
        try {
          await this.sink.send(this.inFlight);
          this.counters.sent += this.inFlight.length;
          this.counters.batches++;
          if (this.failingSince !== undefined)
            this.opts.logger?.warn(
              `publishing recovered after ${now() - this.failingSince} ms (${attempt} retries)`,
            );
          this.failingSince = undefined;
          this.lastError = undefined;
          this.inFlight = [];
          break;
        } catch (err) {
          this.counters.failures++;
          this.failingSince ??= now();
          this.lastError = errorReason(err);
          const ms = backoffDelay(attempt++, this.opts.backoff ?? SEND_BACKOFF, random);
          const cls = classifyError(err);
          const line = `send of ${this.inFlight.length} state messages failed (${cls}), retrying in ${ms} ms: ${this.lastError}`;
          if (cls === 'retriable') this.opts.logger?.warn(line);
          else this.opts.logger?.error(line);
          // The queue keeps growing meanwhile; keep it bounded.
          if (this.queue.length > this.compactAt) this.compact();
          await sleep(ms, this.stopSignal.signal);
        }
      }
    }
  }

  /**
   * Keeps the newest queued message per key, in the order of those messages. The batch in
   * flight is not touched: it goes first, so per-key order still holds.
   */
  private compact(): void {
    const before = this.queue.length;
    const last = new Map<string, number>();
    this.queue.forEach((m, i) => last.set(`${m.topic}\u0000${m.key}`, i));
    this.queue = this.queue.filter((m, i) => last.get(`${m.topic}\u0000${m.key}`) === i);
    this.counters.compactions++;
    this.opts.logger?.warn(
      `publish queue passed ${this.compactAt} messages; kept the newest per key: ${before} -> ${this.queue.length}`,
    );
    this.compactAt = Math.max(this.compactAbove, 2 * this.queue.length);
  }
}
