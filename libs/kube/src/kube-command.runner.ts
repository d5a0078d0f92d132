/**
 * One entry point for the executor: runs any core command against its target cluster.
 *
 *   const r = await runner.run(cmd, { onRefused: (x) => emit('refused', x) });
 *   // r: { outcome: 'done' | 'already-done' | 'refused' | 'failed', detail?, generation? }
 *
 * Retriable failures throw KubeRetriableError (re-run the same command later: every action
 * re-reads the current state first, so a repeat is harmless).
 */
import type { Command } from '@ringmaster/rollout-core';
import type { KubeCommandResult } from './kube-command.result';
import type { KubeClusters } from './kube-clusters';
import { PodRestarter, type RestartOptions } from './pod-restarter';
import { WorkloadChanger } from './workload-changer';

export class KubeCommandRunner {
  private readonly restarter: PodRestarter;
  private readonly changer: WorkloadChanger;

  constructor(clusters: KubeClusters, restartDefaults: RestartOptions = {}) {
    this.restarter = new PodRestarter(clusters, restartDefaults);
    this.changer = new WorkloadChanger(clusters);
  }

  run(cmd: Command, restart: RestartOptions = {}): Promise<KubeCommandResult> {
    const cluster = cmd.target.cluster;
    switch (cmd.kind) {
      case 'restart-pod':
        return this.restarter.restartPod(cluster, cmd, restart);
      case 'apply-template':
        return this.changer.applyTemplate(cluster, cmd);
      case 'roll-deployment':
        return this.changer.rollDeployment(cluster, cmd);
      case 'set-deployment-paused':
        return this.changer.setDeploymentPaused(cluster, cmd);
      default: {
        const never: never = cmd;
        return Promise.resolve({
          outcome: 'failed',
          detail: `unknown command kind ${(never as { kind?: string }).kind}`,
        });
      }
    }
  }
}
