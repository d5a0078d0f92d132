import { Module } from '@nestjs/common';
import { KubeCommandRunner } from '@ringmaster/kube';
import { HealthModule } from '@ringmaster/service-kit';
import { COMMAND_RUNNER, CommandConsumer } from './command.consumer';
import {
  EXECUTOR_CONFIG,
  type ExecutorConfig,
  loadExecutorClusters,
  loadExecutorConfig,
} from './executor.config';
import { ExecutorHttpController } from './executor.http.controller';

/**
 * The executor: consumes `rollout.commands`, acts through the Kubernetes API, publishes
 * `rollout.command-results`. Config and kubeconfig contexts are checked when the module is
 * created, so a wrong setting stops the process before it connects to anything.
 */
@Module({
  imports: [HealthModule.forService('executor')],
  controllers: [ExecutorHttpController],
  providers: [
    { provide: EXECUTOR_CONFIG, useFactory: () => loadExecutorConfig(process.env) },
    {
      provide: COMMAND_RUNNER,
      useFactory: (config: ExecutorConfig) => new KubeCommandRunner(loadExecutorClusters(config)),
      inject: [EXECUTOR_CONFIG],
    },
    CommandConsumer,
  ],
})
export class ExecutorModule {}
