/**
 * Feeds the ObservedStateStore from the compacted state topics. Every planner instance reads
 * them whole from the beginning at start (an ephemeral consumer group, no commits: the topics
 * themselves are the state), then follows them. `synced` turns true once every partition has
 * been read up to where it ended at start, which is what /readyz waits for.
 *
 * It also follows `cluster.reachability` (the watcher's word on whether each target's API can
 * be reached), which the store puts on the target (ObservedTarget.unreachable).
 *
 * An unreadable observation, or one under a key that is not its own `cluster/namespace/name`
 * (parseClusterState, parseReachability), goes to the dead-letter topic with the reason; the
 * stream goes on.
 */
import { Injectable, Logger } from '@nestjs/common';
import type { Consumer, Kafka } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import {
  parseClusterState,
  parseReachability,
  PodStateMessageSchema,
  WorkloadStateMessageSchema,
  type ParseResult,
} from '@ringmaster/contracts';
import { DeadLetterPublisher, groupTimeouts, type KafkaSettings } from '@ringmaster/messaging';
import { ObservedStateStore, type ObservedChange } from './observed-state.store';
import { ReplayCatchUp, type PartitionEnd } from './replay.catch-up';

export type ChangeListener = (changes: ObservedChange[]) => void;

@Injectable()
export class ObservedStateConsumer {
  private readonly log = new Logger(ObservedStateConsumer.name);
  private consumer?: Consumer;
  /** Set at start: how far the replay must go before the view counts as synced. */
  private catchUp?: ReplayCatchUp;
  private listeners: ChangeListener[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: KafkaSettings,
    private readonly store: ObservedStateStore,
    private readonly deadLetter: DeadLetterPublisher,
  ) {}

  onChange(listener: ChangeListener): void {
    this.listeners.push(listener);
  }

  /** The replay of the state topics reached where they ended at start (readiness, leadership). */
  get synced(): boolean {
    return this.catchUp?.caughtUp ?? false;
  }

  /** Resolves once synced; the planner competes for leadership only then (ReplayCatchUp). */
  async whenSynced(): Promise<void> {
    while (!this.catchUp) await new Promise((r) => setTimeout(r, 100));
    await this.catchUp.done;
  }

  async start(): Promise<void> {
    const { pods, workloads, reachability } = this.settings.topics;
    const admin = this.kafka.admin();
    await admin.connect();
    const ends: PartitionEnd[] = [];
    try {
      for (const topic of [pods, workloads, reachability])
        for (const p of await admin.fetchTopicOffsets(topic)) ends.push({ topic, ...p });
    } finally {
      await admin.disconnect();
    }
    const catchUp = new ReplayCatchUp(ends);
    this.consumer = this.kafka.consumer({
      groupId: `ringmaster-planner-view-${randomBytes(6).toString('hex')}`,
      // After a broker restart kafkajs rejoins as a new member while the group still lists the
      // old one: the view stalls until that session ends (30 s by default, measured in the
      // chaos lane), so it follows KAFKA_SESSION_TIMEOUT_MS like the other groups.
      ...groupTimeouts(this.settings),
    });
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [pods, workloads, reachability],
      fromBeginning: true,
    });
    this.catchUp = catchUp;
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const changes: ObservedChange[] = [];
        for (const m of batch.messages) {
          const key = m.key?.toString() ?? '';
          const isPod = batch.topic === pods;
          const isReachability = batch.topic === reachability;
          const r: ParseResult<unknown> = isReachability
            ? parseReachability(m.key === null ? null : key, m.value)
            : parseClusterState(
                isPod ? PodStateMessageSchema : WorkloadStateMessageSchema,
                m.key === null ? null : key,
                m.value,
              );
          if (!r.ok) {
            await this.deadLetter.publish({
              sourceTopic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key,
              value: m.value,
              reason: r.reason,
            });
            continue;
          }
          const change = isReachability
            ? this.store.applyReachability(key, r.value as never)
            : isPod
              ? this.store.applyPod(key, r.value as never)
              : this.store.applyWorkload(key, r.value as never);
          if (change) changes.push(change);
        }
        if (catchUp.advance(batch.topic, batch.partition, batch.lastOffset()))
          this.log.log(`observed state synced: ${this.store.targets().length} target(s)`);
        if (changes.length > 0) for (const l of this.listeners) l(changes);
        await heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }
}
