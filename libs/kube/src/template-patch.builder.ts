/**
 * Strategic merge patches for a rollout's change to a pod template. Pure.
 *
 * Each patch sets values (never toggles or appends), so applying it twice changes nothing the
 * second time: the API server sees an identical object and keeps metadata.generation. That is
 * what makes a re-delivered command harmless.
 *
 * | change                                   | pod template patch                                         |
 * |------------------------------------------|------------------------------------------------------------|
 * | { kind: 'restart' } (rollout r1)         | metadata.annotations['ringmaster.dev/restarted-by'] = 'r1' |
 * | { kind: 'image', image: 'm:2.15' }       | spec.containers: [{ name, image }] for every container     |
 * |                                          | running the same image (`…/mimir:*`); none: empty patch    |
 * | { kind: 'image', image, container: 'c' } | spec.containers: [{ name: 'c', image }]                    |
 * | { kind: 'template', annotations, env }   | metadata.annotations; every container's env (by name)      |
 *
 * Containers and env entries are merged by name (their patch merge keys), so other containers
 * and variables are untouched. A variable that currently comes from `valueFrom` gets
 * `valueFrom: null` beside the new value (the API rejects both at once).
 */
import type {
  V1Container,
  V1Deployment,
  V1PodTemplateSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import type { ApplyTemplateCommand, Change, RollDeploymentCommand } from '@ringmaster/rollout-core';
import { ANNOTATION_RESTARTED_BY, ANNOTATION_ROLLOUT_ID } from '@ringmaster/contracts';

export type JsonObject = { [k: string]: unknown };

export type TemplatePatchResult = { ok: true; patch: JsonObject } | { ok: false; error: string };

/**
 * The pod-template part of the patch (`spec.template` of the workload).
 * `template` is the current template: it names the first container and the env sources.
 */
export function buildTemplatePatch(
  change: Change,
  rolloutId: string,
  template: V1PodTemplateSpec | undefined,
): TemplatePatchResult {
  const containers: V1Container[] = template?.spec?.containers ?? [];
  switch (change.kind) {
    case 'restart':
      return {
        ok: true,
        patch: { metadata: { annotations: { [ANNOTATION_RESTARTED_BY]: rolloutId } } },
      };
    case 'image': {
      if (!change.image) return { ok: false, error: 'image change without an image' };
      if (!containers.length) return { ok: false, error: 'the pod template has no container' };
      if (change.container && !containers.some((c) => c.name === change.container)) {
        return {
          ok: false,
          error: `no container "${change.container}" in the pod template (containers: ${containers.map((c) => c.name).join(', ')})`,
        };
      }
      const names = imageContainers(change.image, change.container, containers);
      // No container runs this image (e.g. an nginx gateway): nothing to change here.
      if (!names.length) return { ok: true, patch: {} };
      return {
        ok: true,
        patch: { spec: { containers: names.map((name) => ({ name, image: change.image })) } },
      };
    }
    case 'template': {
      const patch: JsonObject = {};
      if (change.annotations && Object.keys(change.annotations).length) {
        patch.metadata = { annotations: { ...change.annotations } };
      }
      const env = Object.entries(change.env ?? {}).sort(([a], [b]) => a.localeCompare(b));
      if (env.length) {
        if (!containers.length)
          return { ok: false, error: 'the pod template has no container to set env on' };
        patch.spec = {
          containers: containers.map((c) => ({
            name: c.name,
            env: env.map(([name, value]) => {
              const current = c.env?.find((e) => e.name === name);
              return current?.valueFrom ? { name, value, valueFrom: null } : { name, value };
            }),
          })),
        };
      }
      return { ok: true, patch };
    }
    default: {
      const never: never = change;
      return { ok: false, error: `unknown change ${JSON.stringify(never)}` };
    }
  }
}

/** `registry:5000/grafana/mimir:2.15@sha256:…` -> `mimir`: what tells Mimir's containers apart. */
export function imageName(image: string): string {
  const path = image.split('@')[0];
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last.includes(':') ? last.slice(0, last.indexOf(':')) : last;
}

/**
 * The containers an image change applies to: the named one, else every container running an
 * image of the same name (a new `grafana/mimir` replaces `grafana/mimir`, not an nginx or a
 * sidecar next to it).
 *
 * imageContainers('grafana/mimir:2.15.0', undefined, [{name:'nginx',image:'nginx:1'},{name:'mimir',image:'grafana/mimir:2.14.0'}]) -> ['mimir']
 */
export function imageContainers(
  image: string,
  container: string | undefined,
  containers: V1Container[],
): string[] {
  if (container) return [container];
  return containers
    .filter((c) => c.image && imageName(c.image) === imageName(image))
    .map((c) => c.name);
}

/**
 * Whether the template already has what the patch would set (so the change is in place).
 * Used for the detail of an idempotent re-apply; the API server is the real judge.
 */
export function templateHasChange(
  change: Change,
  rolloutId: string,
  template: V1PodTemplateSpec | undefined,
): boolean {
  const containers = template?.spec?.containers ?? [];
  switch (change.kind) {
    case 'restart':
      return template?.metadata?.annotations?.[ANNOTATION_RESTARTED_BY] === rolloutId;
    case 'image': {
      const names = imageContainers(change.image, change.container, containers);
      return names.every((n) => containers.some((c) => c.name === n && c.image === change.image));
    }
    case 'template': {
      const ann = template?.metadata?.annotations ?? {};
      const annOk = Object.entries(change.annotations ?? {}).every(([k, v]) => ann[k] === v);
      const envOk = Object.entries(change.env ?? {}).every(([k, v]) =>
        containers.every((c) => c.env?.some((e) => e.name === k && e.value === v && !e.valueFrom)),
      );
      return annOk && envOk;
    }
    default:
      return false;
  }
}

/**
 * The StatefulSet part of applyTemplate, pure: the full patch or the reason to refuse.
 *
 * Refusal: a StatefulSet whose own strategy is RollingUpdate would restart every pod at the
 * controller's pace the moment its template changes, outside the per-component limits. So
 * the change is refused, naming the workload, unless the request takes the workload over; the
 * switch to OnDelete then rides in the same patch, so no controller ever sees the new template
 * with the old strategy.
 */
export function statefulSetPatch(
  sts: V1StatefulSet,
  cmd: Pick<ApplyTemplateCommand, 'change' | 'rolloutId' | 'takeOver'>,
): { ok: true; patch: JsonObject } | { ok: false; error: string } {
  const name = `${sts.metadata?.namespace}/${sts.metadata?.name}`;
  const strategy = sts.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'OnDelete' && !cmd.takeOver) {
    return {
      ok: false,
      error: `StatefulSet ${name} uses updateStrategy ${strategy}: its controller would restart every pod at its own pace, ignoring the per-component limits; refusing to change it (request a take-over to let Ringmaster switch it to OnDelete)`,
    };
  }
  const tpl = buildTemplatePatch(cmd.change, cmd.rolloutId, sts.spec?.template);
  if (!tpl.ok) return { ok: false, error: `StatefulSet ${name}: ${tpl.error}` };
  const spec: JsonObject = { template: tpl.patch };
  // rollingUpdate (partition) is only valid with RollingUpdate: null removes it.
  if (strategy !== 'OnDelete') spec.updateStrategy = { type: 'OnDelete', rollingUpdate: null };
  return {
    ok: true,
    patch: {
      metadata: {
        resourceVersion: sts.metadata?.resourceVersion,
        annotations: { [ANNOTATION_ROLLOUT_ID]: cmd.rolloutId },
      },
      spec,
    },
  };
}

/**
 * What a Deployment roll sets. `minReadySeconds` carries the rollout's soak (a new pod counts
 * as available only once Ready that long, so the controller's window slides like the core's);
 * left as the owner set it when absent.
 */
export type DeploymentRollSpec = Pick<
  RollDeploymentCommand,
  'change' | 'rolloutId' | 'maxUnavailable'
> & {
  minReadySeconds?: number;
};

/**
 * The Deployment part of rollDeployment, pure.
 *
 * maxUnavailable comes from the policy. maxSurge is left as the owner set it (the chart uses
 * 15%): surge pods are extra capacity and never reduce availability, so they cannot break the
 * limit; zeroing it would only slow the roll and change the owner's capacity plan. The type is
 * forced to RollingUpdate, since Recreate would take every replica down at once.
 */
export function deploymentPatch(
  d: V1Deployment,
  cmd: DeploymentRollSpec,
): { ok: true; patch: JsonObject } | { ok: false; error: string } {
  const name = `${d.metadata?.namespace}/${d.metadata?.name}`;
  if (!Number.isInteger(cmd.maxUnavailable) || cmd.maxUnavailable < 1) {
    return {
      ok: false,
      error: `Deployment ${name}: maxUnavailable must be an integer >= 1, got ${cmd.maxUnavailable}`,
    };
  }
  const minReady = cmd.minReadySeconds;
  if (minReady !== undefined && (!Number.isInteger(minReady) || minReady < 0)) {
    return {
      ok: false,
      error: `Deployment ${name}: minReadySeconds must be an integer >= 0, got ${minReady}`,
    };
  }
  const tpl = buildTemplatePatch(cmd.change, cmd.rolloutId, d.spec?.template);
  if (!tpl.ok) return { ok: false, error: `Deployment ${name}: ${tpl.error}` };
  return {
    ok: true,
    patch: {
      metadata: {
        resourceVersion: d.metadata?.resourceVersion,
        annotations: { [ANNOTATION_ROLLOUT_ID]: cmd.rolloutId },
      },
      spec: {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: cmd.maxUnavailable } },
        ...(minReady !== undefined ? { minReadySeconds: minReady } : {}),
        template: tpl.patch,
      },
    },
  };
}
