/**
 * Template changes on workloads: the StatefulSet half of a rollout (change the template, let
 * nothing restart) and the Deployment half (change the template, let the Deployment
 * controller replace pods, maxUnavailable at a time).
 *
 * Level-triggered and idempotent: each call reads the workload, builds a patch that sets
 * values, and applies it with the read resourceVersion as precondition. Re-applying the same
 * command is a no-op for the API server, so metadata.generation does not move; the result
 * reports the generation either way, which is what the core waits for the controller to observe.
 *
 * Errors: a workload that does not exist, a container that does not exist, a StatefulSet the
 * request may not take over, a 403/422 -> `failed` with the reason. 5xx, timeouts, resets and
 * repeated write conflicts -> KubeRetriableError.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type {
  ApplyTemplateCommand,
  RollDeploymentCommand,
  SetDeploymentPausedCommand,
} from '@ringmaster/rollout-core';
import { type KubeClusters, clientsFor } from './kube-clusters';
import type { KubeCommandResult } from './kube-command.result';
import {
  DEFAULT_CALL_TIMEOUT_MS,
  KubeRetriableError,
  describe,
  httpStatusOf,
  rethrowIfRetriable,
  withTimeout,
} from './kube.errors';
import {
  type DeploymentRollSpec,
  deploymentPatch,
  statefulSetPatch,
  templateHasChange,
} from './template-patch.builder';

/** Field manager recorded in managedFields for every write Ringmaster makes. */
export const FIELD_MANAGER = 'ringmaster';

const SMP = () => setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
const MERGE = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Times a patch is re-read and re-sent after a 409 (someone else wrote in between). */
const CONFLICT_ATTEMPTS = 5;

export class WorkloadChanger {
  constructor(
    private readonly clusters: KubeClusters,
    /** Bound on each API call; past it: KubeRetriableError. */
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {}

  /** Applies the change to a StatefulSet's template (OnDelete: nothing restarts yet). */
  async applyTemplate(cluster: string, cmd: ApplyTemplateCommand): Promise<KubeCommandResult> {
    const namespace = cmd.target.namespace;
    const name = cmd.workload;
    return this.withConflictRetry(`StatefulSet ${cluster}/${namespace}/${name}`, async () => {
      const { apps } = clientsFor(this.clusters, cluster);
      const sts = await withTimeout(
        apps.readNamespacedStatefulSet({ name, namespace }),
        this.callTimeoutMs,
        `read ${name}`,
      );
      const before = sts.metadata?.generation ?? 0;
      const p = statefulSetPatch(sts, cmd);
      if (!p.ok) return { outcome: 'failed', detail: p.error };
      const unchanged =
        templateHasChange(cmd.change, cmd.rolloutId, sts.spec?.template) &&
        sts.spec?.updateStrategy?.type === 'OnDelete';
      const after = await withTimeout(
        apps.patchNamespacedStatefulSet(
          { name, namespace, body: p.patch, fieldManager: FIELD_MANAGER },
          SMP(),
        ),
        this.callTimeoutMs,
        `patch ${name}`,
      );
      const generation = after.metadata?.generation ?? before;
      return {
        outcome: 'done',
        generation,
        detail: describeGeneration('StatefulSet', namespace, name, before, generation, unchanged),
      };
    });
  }

  /** Changes a Deployment's template with maxUnavailable from the policy; its controller rolls. */
  async rollDeployment(cluster: string, cmd: RollDeploymentCommand): Promise<KubeCommandResult> {
    const roll: DeploymentRollSpec = cmd;
    const namespace = cmd.target.namespace;
    const name = cmd.workload;
    return this.withConflictRetry(`Deployment ${cluster}/${namespace}/${name}`, async () => {
      const { apps } = clientsFor(this.clusters, cluster);
      const d = await withTimeout(
        apps.readNamespacedDeployment({ name, namespace }),
        this.callTimeoutMs,
        `read ${name}`,
      );
      const before = d.metadata?.generation ?? 0;
      const p = deploymentPatch(d, roll);
      if (!p.ok) return { outcome: 'failed', detail: p.error };
      const unchanged =
        templateHasChange(cmd.change, cmd.rolloutId, d.spec?.template) &&
        `${d.spec?.strategy?.rollingUpdate?.maxUnavailable}` === `${cmd.maxUnavailable}` &&
        (roll.minReadySeconds === undefined ||
          (d.spec?.minReadySeconds ?? 0) === roll.minReadySeconds);
      const after = await withTimeout(
        apps.patchNamespacedDeployment(
          { name, namespace, body: p.patch, fieldManager: FIELD_MANAGER },
          SMP(),
        ),
        this.callTimeoutMs,
        `patch ${name}`,
      );
      const generation = after.metadata?.generation ?? before;
      return {
        outcome: 'done',
        generation,
        detail: describeGeneration('Deployment', namespace, name, before, generation, unchanged),
      };
    });
  }

  /** Pauses or resumes a Deployment (pause/abort of a rollout). Idempotent. */
  async setDeploymentPaused(
    cluster: string,
    cmd: SetDeploymentPausedCommand,
  ): Promise<KubeCommandResult> {
    const namespace = cmd.target.namespace;
    const name = cmd.workload;
    return this.withConflictRetry(`Deployment ${cluster}/${namespace}/${name}`, async () => {
      const { apps } = clientsFor(this.clusters, cluster);
      const after = await withTimeout(
        apps.patchNamespacedDeployment(
          { name, namespace, body: { spec: { paused: cmd.paused } }, fieldManager: FIELD_MANAGER },
          MERGE(),
        ),
        this.callTimeoutMs,
        `patch ${name}`,
      );
      return {
        outcome: 'done',
        generation: after.metadata?.generation,
        detail: `Deployment ${namespace}/${name} ${cmd.paused ? 'paused' : 'resumed'}`,
      };
    });
  }

  /**
   * Runs a read-modify-write; a 409 (resourceVersion moved between read and patch) re-reads
   * and tries again after a short pause (25, 50, 100, 200 ms: the workload's controller is
   * writing its status meanwhile; back-to-back retries lost to it on a busy API server), then
   * gives up as retriable. A 404 is a permanent `failed` (the workload
   * is not there: nothing Ringmaster can converge). Other errors are classified.
   */
  private async withConflictRetry(
    what: string,
    attempt: () => Promise<KubeCommandResult>,
  ): Promise<KubeCommandResult> {
    let lastConflict = '';
    for (let i = 0; i < CONFLICT_ATTEMPTS; i++) {
      try {
        return await attempt();
      } catch (err) {
        const status = httpStatusOf(err);
        if (status === 409) {
          lastConflict = describe(rethrowIfRetriable(err, what));
          if (i + 1 < CONFLICT_ATTEMPTS) await new Promise((r) => setTimeout(r, 25 * 2 ** i));
          continue;
        }
        if (status === 404) return { outcome: 'failed', detail: `${what} not found` };
        const c = rethrowIfRetriable(err, what);
        return { outcome: 'failed', detail: `${what}: ${describe(c)}` };
      }
    }
    throw new KubeRetriableError(
      `${what}: write conflict ${CONFLICT_ATTEMPTS} times in a row (${lastConflict})`,
      409,
    );
  }
}

function describeGeneration(
  kind: string,
  namespace: string,
  name: string,
  before: number,
  after: number,
  unchanged: boolean,
): string {
  if (after === before)
    return `${kind} ${namespace}/${name} ${unchanged ? 'already has the change' : 'unchanged'} (generation ${after})`;
  return `${kind} ${namespace}/${name} changed: generation ${before} -> ${after}`;
}
