/**
 * ConsumerRunner: the one way Ringmaster services consume Kafka. A thin layer over a kafkajs
 * consumer with `eachMessage` and manual commits:
 *
 *   handler resolves           -> commit the offset, next message
 *   permanent error            -> dead-letter (with the reason), then commit, next message
 *   retriable error            -> no commit; pause the partition, seek back to the message,
 *                                 resume after an exponential backoff and try it again
 *                                 (other partitions keep flowing)
 *   dead-letter write fails    -> treated as retriable (the message is never skipped unrecorded)
 *   consumer crash             -> kafkajs restarts retriable crashes itself; we restart the rest
 *
 * So a message is committed only after it was handled or dead-lettered (at least once; handlers
 * are idempotent), a poison message costs one dead letter instead of a stuck partition, and an
 * outage of a dependency pauses consumption instead of losing messages.
 *
 * Why kafkajs directly and not a NestJS Kafka microservice (@nestjs/microservices ServerKafka):
 * the Nest transport commits on its own schedule (auto-commit), knows only "throw
 * KafkaRetriableException to make kafkajs retry the batch" for errors (after the retries the
 * consumer crashes and restarts, with no dead-letter step), rewrites client and group ids
 * (`-server` suffix), and its request/reply layer has known rebalance bugs. What we need is
 * per-message commit control and error classification; wrapping kafkajs gives exactly that in
 * one small class the apps start and stop from a Nest provider's lifecycle hooks.
 *
 * Keep handlers short (well under the session timeout, 30 s): a long handler delays heartbeats.
 */
import type { Consumer, ConsumerConfig, EachMessagePayload, IHeaders, Kafka } from 'kafkajs';
import type { DeadLetterPublisher } from './dead-letter.publisher';
import { classifyError, errorReason, PermanentError, type ErrorClass } from './messaging.errors';

export interface InboundMessage {
  topic: string;
  partition: number;
  /** Decimal string (64-bit). */
  offset: string;
  key: string | null;
  /** null: a tombstone (compacted topics). */
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker/producer timestamp, epoch ms as a string (kafkajs' form). */
  timestamp: string;
}

export type MessageHandler = (message: InboundMessage) => Promise<void>;

/** Nest's Logger fits this shape. */
export interface RunnerLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface BackoffOptions {
  /** First retry after this long (ms, default 200). */
  initialMs?: number;
  /** Cap (ms, default 30 000). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
}

export interface ConsumerRunnerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  handler: MessageHandler;
  deadLetter: DeadLetterPublisher;
  /** Where a group with no committed offset starts (default false: only new messages). */
  fromBeginning?: boolean;
  /** Partitions handled in parallel (default 1). Order within a partition is always kept. */
  partitionsConsumedConcurrently?: number;
  classify?: (error: unknown) => ErrorClass;
  backoff?: BackoffOptions;
  /** Give up on a retriable failure after this many attempts and dead-letter (default: never). */
  maxRetriableAttempts?: number;
  logger?: RunnerLogger;
  /** Extra kafkajs consumer settings (session timeout, ...). */
  consumerConfig?: Partial<Omit<ConsumerConfig, 'groupId'>>;
}

export interface RunnerStats {
  handled: number;
  deadLettered: number;
  retries: number;
  restarts: number;
}

const consoleLogger: RunnerLogger = {
  log: (m) => console.log(m),
  warn: (m) => console.warn(m),
  error: (m) => console.error(m),
};

export class ConsumerRunner {
  private consumer: Consumer | undefined;
  private running = false;
  /** Member of the group right now (GROUP_JOIN seen; no rebalance, crash or stop since). */
  private joined = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Attempts of the message each partition is stuck on: `topic:partition` -> offset, count. */
  private readonly attempts = new Map<string, { offset: string; count: number }>();
  private readonly stats_: RunnerStats = { handled: 0, deadLettered: 0, retries: 0, restarts: 0 };
  private readonly log: RunnerLogger;
  private readonly classify: (error: unknown) => ErrorClass;

  constructor(private readonly options: ConsumerRunnerOptions) {
    this.log = options.logger ?? consoleLogger;
    this.classify = options.classify ?? classifyError;
  }

  /** Connects, subscribes and starts consuming; resolves once the consumer runs. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.startConsumer();
  }

  /** Stops after the message in hand (if any); nothing is committed that wasn't handled. */
  async stop(): Promise<void> {
    this.running = false;
    this.joined = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const consumer = this.consumer;
    this.consumer = undefined;
    if (consumer) await consumer.disconnect();
  }

  stats(): RunnerStats {
    return { ...this.stats_ };
  }

  /**
   * Whether the consumer is currently a member of its group with its assignment (for readiness
   * probes): true after kafkajs' GROUP_JOIN, false again on a rebalance, crash, stop or disconnect.
   */
  isJoined(): boolean {
    return this.joined;
  }

  private async startConsumer(): Promise<void> {
    const { kafka, groupId, topics } = this.options;
    const consumer = kafka.consumer({
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      ...this.options.consumerConfig,
      groupId,
    });
    this.consumer = consumer;
    const mine = () => this.consumer === consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (mine()) this.joined = true;
    });
    for (const left of [
      consumer.events.REBALANCING,
      consumer.events.STOP,
      consumer.events.DISCONNECT,
    ] as const) {
      consumer.on(left, () => {
        if (mine()) this.joined = false;
      });
    }
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (mine()) this.joined = false;
      this.log.error(
        `consumer ${groupId} crashed: ${errorReason(payload.error)}${payload.restart ? ' (kafkajs restarts it)' : ''}`,
      );
      if (!payload.restart) this.restartLater(consumer);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: this.options.fromBeginning ?? false });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
        eachMessage: (payload) => this.onMessage(consumer, payload),
      });
    } catch (e) {
      this.log.error(`consumer ${groupId} failed to start: ${errorReason(e)}`);
      this.restartLater(consumer);
    }
  }

  /** Replaces a consumer kafkajs won't restart (or that failed to start), after a backoff. */
  private restartLater(failed: Consumer): void {
    if (!this.running || this.consumer !== failed) return;
    this.stats_.restarts++;
    const delay = this.backoff(Math.min(this.stats_.restarts, 10));
    this.log.warn(`consumer ${this.options.groupId}: restarting in ${delay} ms`);
    this.schedule(delay, async () => {
      await failed.disconnect().catch(() => undefined);
      if (this.running && this.consumer === failed) await this.startConsumer();
    });
  }

  private async onMessage(consumer: Consumer, payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message } = payload;
    if (!this.running) return; // not committed: re-read after restart
    const inbound: InboundMessage = {
      topic,
      partition,
      offset: message.offset,
      key: message.key === null ? null : message.key.toString('utf8'),
      value: message.value,
      headers: decodeHeaders(message.headers),
      timestamp: message.timestamp,
    };
    const where = `${topic}/${partition}@${message.offset}`;
    const tp = `${topic}:${partition}`;
    const prior = this.attempts.get(tp);
    const attempt = prior && prior.offset === message.offset ? prior.count + 1 : 1;

    let failure: unknown;
    try {
      await this.options.handler(inbound);
    } catch (e) {
      failure = e;
    }

    if (failure === undefined) {
      this.attempts.delete(tp);
      this.stats_.handled++;
      await this.commit(consumer, topic, partition, message.offset);
      return;
    }

    const kind = this.classify(failure);
    const giveUp =
      kind === 'retriable' && attempt >= (this.options.maxRetriableAttempts ?? Infinity);
    if (kind === 'permanent' || giveUp) {
      const reason = giveUp
        ? `gave up after ${attempt} attempts: ${errorReason(failure)}`
        : permanentReason(failure);
      try {
        await this.options.deadLetter.publish({
          sourceTopic: topic,
          partition,
          offset: message.offset,
          key: inbound.key,
          consumerGroup: this.options.groupId,
          reason,
          value: message.value,
          headers: inbound.headers,
        });
      } catch (dlqError) {
        this.log.error(
          `${where}: could not dead-letter (${errorReason(dlqError)}); will retry the message`,
        );
        this.retryLater(consumer, payload, attempt);
        return;
      }
      this.log.warn(`${where}: dead-lettered: ${reason}`);
      this.attempts.delete(tp);
      this.stats_.deadLettered++;
      await this.commit(consumer, topic, partition, message.offset);
      return;
    }

    this.log.warn(`${where}: attempt ${attempt} failed (retriable): ${errorReason(failure)}`);
    this.retryLater(consumer, payload, attempt);
  }

  /**
   * Pause this partition and seek back to the message, so kafkajs stops delivering the rest of
   * the batch and fetches from this message again once resumed after the backoff.
   */
  private retryLater(consumer: Consumer, payload: EachMessagePayload, attempt: number): void {
    const { topic, partition, message } = payload;
    this.attempts.set(`${topic}:${partition}`, { offset: message.offset, count: attempt });
    this.stats_.retries++;
    const resume = payload.pause();
    consumer.seek({ topic, partition, offset: message.offset });
    this.schedule(this.backoff(attempt), async () => resume());
  }

  /** Commits offset + 1 (the next message to read). Failures other than a rebalance are only logged: a later commit covers this one. */
  private async commit(
    consumer: Consumer,
    topic: string,
    partition: number,
    offset: string,
  ): Promise<void> {
    try {
      await consumer.commitOffsets([
        { topic, partition, offset: (BigInt(offset) + 1n).toString() },
      ]);
    } catch (e) {
      const type = (e as { type?: string }).type;
      // kafkajs must see a rebalance to re-join the group; the message may then be handled again.
      if (
        type === 'REBALANCE_IN_PROGRESS' ||
        type === 'ILLEGAL_GENERATION' ||
        type === 'NOT_COORDINATOR_FOR_GROUP' ||
        type === 'UNKNOWN_MEMBER_ID'
      ) {
        throw e;
      }
      this.log.warn(
        `${topic}/${partition}@${offset}: commit failed (${errorReason(e)}); a later commit covers it`,
      );
    }
  }

  private backoff(attempt: number): number {
    const { initialMs = 200, maxMs = 30_000, factor = 2 } = this.options.backoff ?? {};
    const d = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
    // Jitter in [d/2, d]: contending consumers don't retry in lockstep.
    return Math.round(d / 2 + Math.random() * (d / 2));
  }

  private schedule(delayMs: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn().catch((e) => this.log.error(`consumer ${this.options.groupId}: ${errorReason(e)}`));
    }, delayMs);
    this.timers.add(t);
  }
}

function permanentReason(error: unknown): string {
  // A PermanentError's message is the reason itself (e.g. parseMessage's field path).
  return error instanceof PermanentError ? error.message : errorReason(error);
}

/** First value of each header, keys lower-cased (header names are case-insensitive, as in HTTP). */
function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k.toLowerCase()] = first.toString();
  }
  return out;
}
