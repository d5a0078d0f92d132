/**
 * The health watcher ("the eyes", DESIGN.md): watches pods and workloads of every configured
 * (cluster, namespace), probes `/ready` where configured, and publishes what it sees to the
 * compacted topics `cluster.pods` and `cluster.workloads`. See README.md beside `src/`.
 *
 * Config is read from the environment when the module is created and fails startup, naming
 * the variable, when it is wrong (watcher.config.ts); the kubeconfig contexts are loaded at
 * the same moment, so a missing context also stops startup. Tests override
 * HEALTH_WATCHER_CONFIG (and may override KUBE_CLUSTERS).
 */
import { Module } from '@nestjs/common';
import { KubePermanentError, loadClusters, type KubeClusters } from '@ringmaster/kube';
import { HealthModule } from '@ringmaster/service-kit';
import { HealthWatcherService, KUBE_CLUSTERS } from './health-watcher.service';
import { ReadinessHttpController } from './readiness.http.controller';
import {
  HEALTH_WATCHER_CONFIG,
  HealthWatcherConfigError,
  healthWatcherConfigFromEnv,
  type HealthWatcherConfig,
} from './watcher.config';

/** One client set per context of RINGMASTER_CONTEXTS; a missing context names the variable. */
export function loadWatchedClusters(config: HealthWatcherConfig): KubeClusters {
  try {
    return loadClusters({
      // Several files (a:b): client-node's default lookup reads and merges $KUBECONFIG.
      kubeconfigPath: config.kubeconfig.includes(':') ? undefined : config.kubeconfig,
      contexts: config.contexts,
    });
  } catch (e) {
    if (e instanceof KubePermanentError)
      throw new HealthWatcherConfigError([{ variable: 'RINGMASTER_CONTEXTS', problem: e.message }]);
    throw e;
  }
}

@Module({
  imports: [HealthModule.forService('health-watcher')],
  controllers: [ReadinessHttpController],
  providers: [
    { provide: HEALTH_WATCHER_CONFIG, useFactory: () => healthWatcherConfigFromEnv(process.env) },
    {
      provide: KUBE_CLUSTERS,
      useFactory: loadWatchedClusters,
      inject: [HEALTH_WATCHER_CONFIG],
    },
    HealthWatcherService,
  ],
})
export class HealthWatcherModule {}
