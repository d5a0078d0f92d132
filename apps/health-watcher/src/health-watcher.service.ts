/**
 * The health watcher's lifecycle: start everything at bootstrap, stop it in order at
 * shutdown, and say on /readyz what is not there yet.
 *
 * Start (nothing here blocks startup; /readyz tells when the watcher is useful):
 *   1. Kafka: ensure the two state topics and connect the producer, retried with backoff
 *      until it works (observations queue up meanwhile); then read the two topics back once
 *      and tombstone objects of our targets that a previous run published and that no longer
 *      exist (state-topic.reader.ts, ClusterWatchSupervisor.reconcileWithTopic);
 *   2. watches: 4 per target (ClusterWatchSupervisor), each lists then watches;
 *   3. the /ready prober, when some component is probed.
 * Stop (SIGTERM via enableShutdownHooks, or app.close()):
 *   prober -> watches (no new observations) -> flush the queue (bounded, 10 s) -> disconnect.
 * A message still queued after the flush bound is lost with the process; the next watcher's
 * first list publishes the full state again, so nothing stays wrong on the topics.
 *
 * Scaling out. One watcher process watches a group of clusters: RINGMASTER_CONTEXTS splits
 * the fleet (watcher A: eu-1..eu-20, watcher B: us-1..us-20), each process with its own
 * KUBECONFIG/contexts and the same Kafka. Watchers are stateless: the compacted topics hold the
 * state. A restarted (or moved) watcher publishes every object of its first list, reads the
 * topics back once and tombstones its targets' keys that the list no longer has, so an object
 * deleted while no watcher ran does not linger. Nothing ties a cluster to a process: moving
 * a cluster from one group to another is a config change and a restart of both.
 * Running two watchers for the same cluster (a rolling deploy of the watcher, a failover
 * standby) is harmless: both write the same state under the same keys, and consumers keep the
 * newest observation per key (highest resourceVersion, then observedAt), so duplicates and
 * even a late duplicate of an older state never win.
 */
import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { backoffDelay, sleep, type KubeClusters } from '@ringmaster/kube';
import { errorReason } from '@ringmaster/messaging';
import { ClusterStatePublisher, type PublisherStats } from './cluster-state.publisher';
import { ClusterWatchSupervisor, type WatchStatus } from './cluster-watch.supervisor';
import { KafkaStateSink } from './kafka-state.sink';
import { readLiveKeys } from './state-topic.reader';
import { ReadyProber, type ProberStats } from './ready.prober';
import { HEALTH_WATCHER_CONFIG, describeConfig, type HealthWatcherConfig } from './watcher.config';

export const KUBE_CLUSTERS = Symbol('KUBE_CLUSTERS');

export interface Readiness {
  ready: boolean;
  /** What is missing, one line each (empty when ready). */
  missing: string[];
  kafka: { connected: boolean; publisher: PublisherStats; topicsReadBack: boolean };
  watches: WatchStatus[];
  prober?: ProberStats;
}

@Injectable()
export class HealthWatcherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('HealthWatcher');
  private readonly sink: KafkaStateSink;
  private readonly publisher: ClusterStatePublisher;
  private readonly supervisor: ClusterWatchSupervisor;
  private readonly prober: ReadyProber | undefined;
  private readonly stopSignal = new AbortController();
  private connecting: Promise<void> | undefined;
  private reconciled = false;

  constructor(
    @Inject(HEALTH_WATCHER_CONFIG) private readonly config: HealthWatcherConfig,
    @Inject(KUBE_CLUSTERS) clusters: KubeClusters,
  ) {
    const log = {
      log: (m: string) => this.logger.log(m),
      warn: (m: string) => this.logger.warn(m),
      error: (m: string) => this.logger.error(m),
    };
    this.sink = new KafkaStateSink(config.kafka, log);
    this.publisher = new ClusterStatePublisher(this.sink, {
      lingerMs: config.publishLingerMs,
      logger: log,
    });
    this.supervisor = new ClusterWatchSupervisor({
      clusters,
      targets: config.targets,
      labelSelector: config.labelSelector,
      probe: config.probe,
      publish: (m) => this.publisher.publish(m),
      logger: log,
      unreachableAfterMs: config.unreachableAfterMs,
    });
    const probing = config.probe.components === undefined || config.probe.components.length > 0;
    this.prober = probing
      ? new ReadyProber({
          intervalMs: config.probe.intervalMs,
          timeoutMs: config.probe.timeoutMs,
          candidates: () => this.supervisor.probeCandidates(),
          onResult: (c, r) => this.supervisor.applyProbe(c, r),
        })
      : undefined;
  }

  onApplicationBootstrap(): void {
    this.logger.log(`starting: ${JSON.stringify(describeConfig(this.config))}`);
    for (const w of this.config.kafka.warnings) this.logger.warn(w);
    this.connecting = this.connectKafka().then(() => this.reconcileWithTopics());
    this.supervisor.start();
    this.prober?.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopSignal.abort();
    await this.prober?.stop();
    await this.supervisor.stop();
    const left = await this.publisher.close(10_000);
    if (left > 0)
      this.logger.warn(
        `${left} state messages not sent at shutdown (the next list resends the state)`,
      );
    // A connect still retrying gives up at its next backoff, a read-back at once; don't wait
    // long on kafkajs' own retries.
    await Promise.race([this.connecting, sleep(5_000)]);
    try {
      await this.sink.disconnect();
    } catch (e) {
      this.logger.warn(`Kafka disconnect: ${errorReason(e)}`);
    }
    this.logger.log('stopped');
  }

  readiness(): Readiness {
    const missing: string[] = [];
    const watches = this.supervisor.status();
    for (const w of watches) if (!w.synced) missing.push(`watch ${w.target} ${w.kind}: not synced`);
    if (!this.sink.connected) missing.push('kafka: producer not connected');
    const publisher = this.publisher.stats();
    if (publisher.failingSince !== undefined)
      missing.push(
        `kafka: sends failing since ${new Date(publisher.failingSince).toISOString()}: ${publisher.lastError ?? ''}`,
      );
    const r: Readiness = {
      ready: missing.length === 0,
      missing,
      kafka: { connected: this.sink.connected, publisher, topicsReadBack: this.reconciled },
      watches,
    };
    if (this.prober) r.prober = this.prober.stats();
    return r;
  }

  /** Everything observed so far is on Kafka (tests, diagnostics). */
  flush(timeoutMs?: number): Promise<boolean> {
    return this.publisher.flush(timeoutMs);
  }

  /** Tombstones what a previous run left on the topics and no longer exists (best effort). */
  private async reconcileWithTopics(): Promise<void> {
    if (this.stopSignal.signal.aborted) return;
    const { pods, workloads } = this.config.kafka.topics;
    const targets = new Set(this.config.targets.map((t) => `${t.cluster}/${t.namespace}`));
    try {
      const seed = await readLiveKeys(this.sink.client, [pods, workloads], {
        accept: (key) => targets.has(key.slice(0, key.lastIndexOf('/'))),
        groupPrefix: `${this.config.kafka.clientId}-seed`,
        signal: this.stopSignal.signal,
      });
      const n = await this.supervisor.reconcileWithTopic({
        pods: seed.get(pods) ?? new Map(),
        workloads: seed.get(workloads) ?? new Map(),
      });
      this.reconciled = true;
      this.logger.log(
        `read back the state topics: ${n} object(s) gone since the last run tombstoned`,
      );
    } catch (e) {
      this.logger.warn(
        `could not read back the state topics (objects deleted while no watcher ran stay until their key is reused): ${errorReason(e)}`,
      );
    }
  }

  private async connectKafka(): Promise<void> {
    for (let attempt = 0; !this.stopSignal.signal.aborted; attempt++) {
      try {
        await this.sink.connect();
        this.logger.log(
          `Kafka connected; publishing to ${this.config.kafka.topics.pods} and ${this.config.kafka.topics.workloads}`,
        );
        return;
      } catch (e) {
        const ms = backoffDelay(attempt, { initialMs: 500, maxMs: 30_000, factor: 2 });
        this.logger.warn(`Kafka connect failed, retrying in ${ms} ms: ${errorReason(e)}`);
        await sleep(ms, this.stopSignal.signal);
      }
    }
  }
}
