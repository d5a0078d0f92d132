/**
 * The executor's Kafka side, started and stopped with the Nest application:
 *
 *   bootstrap: connect the producer (retrying until Kafka answers), create missing topics
 *              (best effort), give a new group its start position (the end of the commands
 *              topic, committed: positionNewGroup), then join the group on `rollout.commands`
 *   running:   ConsumerRunner -> CommandMessageHandler for each message; partitions (clusters)
 *              are handled concurrently, each in order; commit after the result is published
 *   SIGTERM:   stop fetching, let the message in hand finish (its result published, its offset
 *              committed), leave the group, then disconnect the producer
 *
 * Readiness (`GET /readyz`) is "a member of the group and the producer connected".
 */
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { sleep } from '@ringmaster/kube';
import {
  ConsumerRunner,
  DeadLetterPublisher,
  createKafka,
  createProducer,
  ensureTopics,
  errorReason,
  groupTimeouts,
  positionNewGroup,
  redactedConfig,
} from '@ringmaster/messaging';
import { CommandMessageHandler, type CommandRunnerPort } from './command.message.handler';
import { CommandResultPublisher } from './command-result.publisher';
import { EXECUTOR_CONFIG, type ExecutorConfig } from './executor.config';

/** Injection token of the CommandRunnerPort (KubeCommandRunner over the configured clusters). */
export const COMMAND_RUNNER = Symbol('COMMAND_RUNNER');

/**
 * How far before this process's start a new group begins reading commands: message timestamps
 * come from the planner's clock, which may run behind this one.
 */
const GROUP_START_SKEW_MS = 30_000;

export interface Readiness {
  ready: boolean;
  /** What is missing, in words (empty when ready). */
  missing: string[];
}

@Injectable()
export class CommandConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('executor');
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly publisher: CommandResultPublisher;
  private readonly runner: ConsumerRunner;
  readonly handler: CommandMessageHandler;
  private readonly stopSignal = new AbortController();
  private starting: Promise<void> | undefined;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly config: ExecutorConfig,
    @Inject(COMMAND_RUNNER) commandRunner: CommandRunnerPort,
  ) {
    const topics = config.kafka.topics;
    this.kafka = createKafka(config.kafka);
    this.producer = createProducer(this.kafka);
    this.publisher = new CommandResultPublisher(this.producer, topics.commandResults);
    this.handler = new CommandMessageHandler({
      executorId: config.executorId,
      clusters: config.clusterNames,
      runner: commandRunner,
      sink: this.publisher,
      refusalDeadlineMs: config.refusalDeadlineMs,
      retryBudgetMs: config.retryBudgetMs,
      unreachableAfterMs: config.unreachableAfterMs,
      completedCacheSize: config.completedCacheSize,
      logger: this.logger,
    });
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: config.groupId,
      topics: [topics.commands],
      handler: this.handler.handle,
      deadLetter: new DeadLetterPublisher(this.producer, { topic: topics.deadLetter }),
      // A new group starts where positionGroup committed (no older commands: replaying a week
      // of them could re-apply templates a later rollout has replaced), so a rebalance before
      // the first commit cannot move it past commands.
      fromBeginning: false,
      partitionsConsumedConcurrently: config.concurrency,
      backoff: { ...config.backoff, factor: 2 },
      logger: this.logger,
      consumerConfig: groupTimeouts(config.kafka),
    });
  }

  onApplicationBootstrap(): void {
    const c = this.config;
    this.logger.log(
      `executor ${c.executorId}: group ${c.groupId}, clusters ${c.clusterNames.join(', ')}, kafka ${JSON.stringify(redactedConfig(c.kafka))}`,
    );
    for (const w of c.kafka.warnings) this.logger.warn(w);
    // In the background: HTTP serves /healthz and an honest /readyz while Kafka is away.
    this.starting = this.start().catch((e) =>
      this.logger.error(`executor failed to start: ${errorReason(e)}`),
    );
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.logger.log(`shutting down${signal ? ` (${signal})` : ''}: finishing the command in hand`);
    this.stopSignal.abort();
    await this.starting;
    // Waits for the message in hand: its result is published and its offset committed first.
    await this.runner.stop();
    await this.producer.disconnect().catch((e) => this.logger.warn(errorReason(e)));
    const s = this.handler.stats();
    this.logger.log(
      `stopped: ${s.runs} Kubernetes run(s), ${s.redelivered} redelivery(ies), results ${JSON.stringify(s.published)}`,
    );
  }

  readiness(): Readiness {
    const missing: string[] = [];
    if (this.stopSignal.signal.aborted) missing.push('shutting down');
    if (!this.publisher.isConnected()) missing.push('result producer is not connected to Kafka');
    if (!this.runner.isJoined())
      missing.push(`consumer is not a member of group ${this.config.groupId}`);
    return { ready: missing.length === 0, missing };
  }

  private async start(): Promise<void> {
    const stop = this.stopSignal.signal;
    for (let attempt = 0; !stop.aborted; attempt++) {
      try {
        await this.producer.connect();
        break;
      } catch (e) {
        const wait = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
        this.logger.warn(`Kafka producer: ${errorReason(e)}; retrying in ${wait} ms`);
        await sleep(wait, stop);
      }
    }
    if (stop.aborted) return;
    await this.ensureTopics();
    if (stop.aborted) return;
    await this.positionGroup();
    if (stop.aborted) return;
    await this.runner.start();
  }

  /**
   * A group that has never committed on the commands topic gets, before this member joins, the
   * first command published since this process started (less GROUP_START_SKEW_MS) committed as
   * its start (positionNewGroup). Best effort, like ensureTopics: without admin rights kafkajs
   * still starts a new group at the end, only later.
   */
  private async positionGroup(): Promise<void> {
    const { groupId } = this.config;
    const topic = this.config.kafka.topics.commands;
    const since = Math.floor(performance.timeOrigin) - GROUP_START_SKEW_MS;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const r = await positionNewGroup(admin, groupId, topic, since);
      if (r.positioned.length)
        this.logger.log(
          `group ${groupId} starts at ${topic}'s first command since ${new Date(since).toISOString()} (partitions ${r.positioned.join(', ')})`,
        );
      if (r.skipped) this.logger.log(`group ${groupId} has members already: ${r.skipped}`);
    } catch (e) {
      this.logger.warn(`could not position group ${groupId} (continuing): ${errorReason(e)}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * Creates missing topics with contracts' settings. Best effort: topics may be managed by an
   * operator who gives executors no admin rights; a missing topic then shows as a consumer that
   * keeps restarting (and /readyz 503).
   */
  private async ensureTopics(): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const r = await ensureTopics(admin, {
        prefix: this.config.kafka.topicPrefix,
        replicationFactor: this.config.kafka.replicationFactor,
      });
      if (r.created.length) this.logger.log(`created topics ${r.created.join(', ')}`);
      for (const m of r.mismatches)
        this.logger.warn(
          `topic ${m.topic}: ${m.setting} is ${m.actual}, contracts expect ${m.expected}`,
        );
    } catch (e) {
      this.logger.warn(`could not ensure topics (continuing): ${errorReason(e)}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
