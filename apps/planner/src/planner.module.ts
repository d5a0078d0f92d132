/**
 * The planner's wiring. Everything is built from validated config in factories (the classes
 * take plain constructor arguments, so tests build them the same way without Nest).
 *
 * Start-up order: topics exist -> producer connected -> observed state replayed from the
 * compacted topics -> leader election; the leader then runs the decision loop, the outbox relay
 * and the consumers of requests and command results.
 */
import { Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Kafka, Producer } from 'kafkajs';
import { DataSource } from 'typeorm';
import { HealthModule } from '@ringmaster/service-kit';
import {
  createKafka,
  createProducer,
  DeadLetterPublisher,
  ensureTopics,
  kafkaConfigFromEnv,
  redactedConfig,
  retryTransient,
  type KafkaSettings,
} from '@ringmaster/messaging';
import {
  LeaseRepository,
  OutboxRepository,
  persistenceConfigFromEnv,
  redactedPersistenceConfig,
  RolloutRepository,
} from '@ringmaster/persistence';
import { TokenStore } from './auth/token.store';
import { connectDatabase } from './database.connector';
import { LeaderInputsConsumer } from './leader-inputs.consumer';
import { LeadershipService } from './leadership.service';
import { ObservedStateConsumer } from './observed-state.consumer';
import { ObservedStateStore } from './observed-state.store';
import { OutboxRelay } from './outbox.relay';
import { plannerConfigFromEnv, type PlannerConfig } from './planner.config';
import { PlannerHttpController } from './planner.http.controller';
import { RolloutEngine } from './rollout.engine';
import { RolloutHttpController } from './rollout.http.controller';
import { RolloutService } from './rollout.service';

const KAFKA_SETTINGS = 'KAFKA_SETTINGS';
const KAFKA = 'KAFKA';
const PRODUCER = 'PRODUCER';
const PLANNER_CONFIG = 'PLANNER_CONFIG';

class PlannerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Planner');

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: KafkaSettings,
    private readonly producer: Producer,
    private readonly observed: ObservedStateConsumer,
    private readonly engine: RolloutEngine,
    private readonly relay: OutboxRelay,
    private readonly inputs: LeaderInputsConsumer,
    private readonly leadership: LeadershipService,
    private readonly ds: DataSource,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.log.log(`kafka ${JSON.stringify(redactedConfig(this.settings))}`);
    const log = (m: string) => this.log.warn(m);
    await retryTransient(
      async () => {
        const admin = this.kafka.admin();
        await admin.connect();
        try {
          await ensureTopics(admin, {
            prefix: this.settings.topicPrefix,
            replicationFactor: this.settings.replicationFactor,
          });
        } finally {
          await admin.disconnect();
        }
      },
      { what: 'creating topics', log },
    );
    await retryTransient(() => this.producer.connect(), { what: 'connecting the producer', log });
    this.observed.onChange((changes) => this.engine.onObserved(changes));
    await retryTransient(() => this.observed.start(), { what: 'reading observed state', log });
    // Decisions read the view: a leader deciding on a replay still under way would take
    // workloads not read yet for gone and older observations for current (ReplayCatchUp).
    await this.observed.whenSynced();
    this.leadership.start({
      onLeadershipGained: async () => {
        this.relay.start();
        await this.engine.start();
        await this.inputs.start();
      },
      onLeadershipLost: async () => {
        await this.inputs.stop();
        await this.engine.stop();
        await this.relay.stop();
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.leadership.onApplicationShutdown();
    await this.observed.stop().catch(() => undefined);
    await this.producer.disconnect().catch(() => undefined);
    await this.ds.destroy().catch(() => undefined);
  }
}

@Module({
  imports: [HealthModule.forService('planner')],
  controllers: [RolloutHttpController, PlannerHttpController],
  providers: [
    { provide: PLANNER_CONFIG, useFactory: () => plannerConfigFromEnv() },
    {
      provide: KAFKA_SETTINGS,
      useFactory: () => kafkaConfigFromEnv(process.env, { clientId: 'ringmaster-planner' }),
    },
    { provide: KAFKA, useFactory: (s: KafkaSettings) => createKafka(s), inject: [KAFKA_SETTINGS] },
    {
      provide: PRODUCER,
      useFactory: (k: Kafka) => createProducer(k, { idempotent: true, maxInFlightRequests: 1 }),
      inject: [KAFKA],
    },
    {
      provide: DataSource,
      useFactory: async () => {
        const cfg = persistenceConfigFromEnv();
        const log = new Logger('Planner');
        log.log(`database ${JSON.stringify(redactedPersistenceConfig(cfg))}`);
        return connectDatabase(
          cfg,
          { applicationName: 'ringmaster-planner' },
          { log: (m) => log.warn(m) },
        );
      },
    },
    {
      provide: RolloutRepository,
      useFactory: (ds: DataSource) => new RolloutRepository(ds),
      inject: [DataSource],
    },
    {
      provide: OutboxRepository,
      useFactory: (ds: DataSource) => new OutboxRepository(ds),
      inject: [DataSource],
    },
    {
      provide: LeaseRepository,
      useFactory: (ds: DataSource) => new LeaseRepository(ds),
      inject: [DataSource],
    },
    {
      provide: DeadLetterPublisher,
      useFactory: (p: Producer, s: KafkaSettings) =>
        new DeadLetterPublisher(p, { topic: s.topics.deadLetter }),
      inject: [PRODUCER, KAFKA_SETTINGS],
    },
    {
      provide: TokenStore,
      useFactory: (c: PlannerConfig) => {
        const log = new Logger('Auth');
        const tokens = new TokenStore(c.tokensFile, {
          onReloadError: (e) => log.error(`tokens file kept as it was: ${e.message}`),
        });
        log.log(`${tokens.size} API token(s) from ${c.tokensFile}`);
        return tokens;
      },
      inject: [PLANNER_CONFIG],
    },
    { provide: ObservedStateStore, useFactory: () => new ObservedStateStore() },
    {
      provide: ObservedStateConsumer,
      useFactory: (
        k: Kafka,
        s: KafkaSettings,
        store: ObservedStateStore,
        dl: DeadLetterPublisher,
      ) => new ObservedStateConsumer(k, s, store, dl),
      inject: [KAFKA, KAFKA_SETTINGS, ObservedStateStore, DeadLetterPublisher],
    },
    {
      provide: OutboxRelay,
      useFactory: (o: OutboxRepository, p: Producer) => new OutboxRelay(o, p),
      inject: [OutboxRepository, PRODUCER],
    },
    {
      provide: RolloutEngine,
      useFactory: (
        r: RolloutRepository,
        st: ObservedStateStore,
        relay: OutboxRelay,
        s: KafkaSettings,
        c: PlannerConfig,
      ) => new RolloutEngine(r, st, relay, s.topics, c),
      inject: [RolloutRepository, ObservedStateStore, OutboxRelay, KAFKA_SETTINGS, PLANNER_CONFIG],
    },
    {
      provide: RolloutService,
      useFactory: (r: RolloutRepository, st: ObservedStateStore, e: RolloutEngine) =>
        new RolloutService(r, st, e),
      inject: [RolloutRepository, ObservedStateStore, RolloutEngine],
    },
    {
      provide: LeadershipService,
      useFactory: (l: LeaseRepository, c: PlannerConfig) => new LeadershipService(l, c),
      inject: [LeaseRepository, PLANNER_CONFIG],
    },
    {
      provide: LeaderInputsConsumer,
      useFactory: (
        k: Kafka,
        s: KafkaSettings,
        dl: DeadLetterPublisher,
        svc: RolloutService,
        e: RolloutEngine,
        c: PlannerConfig,
        t: TokenStore,
      ) => new LeaderInputsConsumer(k, s, dl, svc, e, c, t),
      inject: [
        KAFKA,
        KAFKA_SETTINGS,
        DeadLetterPublisher,
        RolloutService,
        RolloutEngine,
        PLANNER_CONFIG,
        TokenStore,
      ],
    },
    {
      provide: PlannerLifecycle,
      useFactory: (...deps: ConstructorParameters<typeof PlannerLifecycle>) =>
        new PlannerLifecycle(...deps),
      inject: [
        KAFKA,
        KAFKA_SETTINGS,
        PRODUCER,
        ObservedStateConsumer,
        RolloutEngine,
        OutboxRelay,
        LeaderInputsConsumer,
        LeadershipService,
        DataSource,
      ],
    },
  ],
})
export class PlannerModule {}
