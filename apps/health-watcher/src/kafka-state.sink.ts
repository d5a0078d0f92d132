/**
 * The Kafka end of the publisher: one kafkajs producer writing `cluster.pods`,
 * `cluster.workloads` and `cluster.reachability` (names from contracts, under KAFKA_TOPIC_PREFIX).
 *
 * - Keys `cluster/namespace/name`, partitioned with the Java client's murmur2
 *   (messaging's createProducer), so a key always lands on the same partition and its
 *   messages stay in the order sent.
 * - `maxInFlightRequests: 1` and one batch at a time (the publisher): a retried request can't
 *   overtake a later one.
 * - acks = all: a message counts as sent once every in-sync replica has it.
 * - Values are validated against the contract before they leave (encodeMessage): a value that
 *   violates it is a bug here, logged and skipped, never retried (it would fail forever).
 * - `connect()` creates the two state topics if missing (ensureTopics, idempotent, safe to
 *   race with other services) and reports existing topics whose settings differ.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import {
  ContractViolationError,
  PodStateMessageSchema,
  TargetReachabilityMessageSchema,
  WorkloadStateMessageSchema,
  encodeMessage,
  topicSpecs,
} from '@ringmaster/contracts';
import {
  RetriableError,
  createKafka,
  createProducer,
  ensureTopics,
  type KafkaSettings,
} from '@ringmaster/messaging';
import type { PublisherLogger, StateSink } from './cluster-state.publisher';
import type { PublishedMessage } from './target-reachability.tracker';

export class KafkaStateSink implements StateSink {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private connectedFlag = false;

  constructor(
    private readonly settings: KafkaSettings,
    private readonly logger: PublisherLogger & { log(message: string): void },
  ) {
    this.kafka = createKafka(settings);
    this.producer = createProducer(this.kafka, { maxInFlightRequests: 1 });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.connectedFlag = false;
    });
    this.producer.on(this.producer.events.CONNECT, () => {
      this.connectedFlag = true;
    });
  }

  /** The kafkajs client (the startup read-back of the topics uses it). */
  get client(): Kafka {
    return this.kafka;
  }

  get connected(): boolean {
    return this.connectedFlag;
  }

  ready(): boolean {
    return this.connectedFlag;
  }

  /** Ensures the state topics and connects the producer. Throws (retriable) when Kafka is away. */
  async connect(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const specs = topicSpecs(this.settings.topicPrefix).filter(
        (s) => s.id === 'pods' || s.id === 'workloads' || s.id === 'reachability',
      );
      const r = await ensureTopics(admin, {
        specs,
        replicationFactor: this.settings.replicationFactor,
      });
      if (r.created.length) this.logger.log(`created topics ${r.created.join(', ')}`);
      for (const m of r.mismatches)
        this.logger.warn(
          `topic ${m.topic}: ${m.setting} is ${m.actual}, expected ${m.expected} (left as is)`,
        );
    } finally {
      await admin.disconnect();
    }
    await this.producer.connect();
    this.connectedFlag = true;
  }

  async send(batch: readonly PublishedMessage[]): Promise<void> {
    if (!this.connectedFlag) throw new RetriableError('Kafka producer not connected yet');
    const byTopic: Record<PublishedMessage['topic'], Message[]> = {
      pods: [],
      workloads: [],
      reachability: [],
    };
    for (const m of batch) {
      let value: string | null = null;
      try {
        value = encode(m);
      } catch (e) {
        if (!(e instanceof ContractViolationError)) throw e;
        this.logger.error(`not publishing ${m.topic} ${m.key}: ${e.message}`);
        continue;
      }
      byTopic[m.topic].push({ key: m.key, value });
    }
    const topicMessages = (['pods', 'workloads', 'reachability'] as const)
      .filter((t) => byTopic[t].length > 0)
      .map((t) => ({ topic: this.settings.topics[t], messages: byTopic[t] }));
    if (topicMessages.length === 0) return;
    await this.producer.sendBatch({ topicMessages, acks: -1 });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    this.connectedFlag = false;
  }
}

/** The value as JSON, validated against its contract; null stays null (a tombstone). */
function encode(m: PublishedMessage): string | null {
  if (m.value === null) return null;
  switch (m.topic) {
    case 'pods':
      return encodeMessage(PodStateMessageSchema, m.value);
    case 'workloads':
      return encodeMessage(WorkloadStateMessageSchema, m.value);
    case 'reachability':
      return encodeMessage(TargetReachabilityMessageSchema, m.value);
  }
}
