/**
 * The leader's Kafka inputs, in one consumer group so a new leader resumes where the last left
 * off (offsets are committed only after handling):
 *  - `rollout.requests`: upgrade requests from other systems. A redelivered request creates no
 *    second rollout (requestId is unique); one that cannot become a rollout (unreadable,
 *    unauthenticated or out of its producer's scopes, unknown cluster, unsafe override) goes to
 *    the dead-letter topic with the reason.
 *  - `rollout.command-results`: executors' outcomes, fed to decide().
 */
import { Injectable, Logger } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import {
  CommandResultMessageSchema,
  REQUEST_AUTH_HEADER,
  RolloutRequestEventSchema,
  toCommandResultEvent,
} from '@ringmaster/contracts';
import {
  ConsumerRunner,
  DeadLetterPublisher,
  PermanentError,
  groupTimeouts,
  routeByTopic,
  schemaHandler,
  type KafkaSettings,
} from '@ringmaster/messaging';
import { AccessError, authorizeEvent } from './auth/access.guard';
import type { TokenStore } from './auth/token.store';
import { RolloutEngine } from './rollout.engine';
import { RolloutRequestError, RolloutService } from './rollout.service';
import type { PlannerConfig } from './planner.config';

@Injectable()
export class LeaderInputsConsumer {
  private readonly log = new Logger(LeaderInputsConsumer.name);
  private runner?: ConsumerRunner;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: KafkaSettings,
    private readonly deadLetter: DeadLetterPublisher,
    private readonly rollouts: RolloutService,
    private readonly engine: RolloutEngine,
    private readonly config: PlannerConfig,
    private readonly tokens: TokenStore,
  ) {}

  async start(): Promise<void> {
    const { requests, commandResults } = this.settings.topics;
    this.runner = new ConsumerRunner({
      kafka: this.kafka,
      groupId: this.config.groupId,
      topics: [requests, commandResults],
      fromBeginning: true,
      deadLetter: this.deadLetter,
      logger: this.log,
      consumerConfig: groupTimeouts(this.settings),
      handler: routeByTopic({
        [requests]: schemaHandler(RolloutRequestEventSchema, async (req, message) => {
          try {
            authorizeEvent(
              this.tokens,
              message.headers[REQUEST_AUTH_HEADER],
              req.producer,
              req.dryRun ? 'read' : 'roll',
              req.targets,
            );
            const r = await this.rollouts.create(req, {
              requestId: req.requestId,
              requestedBy: req.producer,
            });
            if (r.kind !== 'dry-run')
              this.log.log(
                `request ${req.requestId} from ${req.producer}: rollout ${r.rollout.id} (${r.kind})`,
              );
          } catch (e) {
            if (e instanceof RolloutRequestError) throw new PermanentError(e.message);
            if (e instanceof AccessError)
              throw new PermanentError(
                `${e.status === 401 ? 'unauthenticated' : 'forbidden'}: ${e.message}`,
              );
            throw e;
          }
        }),
        [commandResults]: schemaHandler(CommandResultMessageSchema, async (m) => {
          await this.engine.submit(m.rolloutId, toCommandResultEvent(m));
        }),
      }),
    });
    await this.runner.start();
  }

  async stop(): Promise<void> {
    await this.runner?.stop();
    this.runner = undefined;
  }
}
