import type { WorkloadObs } from '../model';

/** A settled workload observation for tests: every replica Ready at revision r1. */
export function workloadObs(
  name: string,
  component: string,
  kind: WorkloadObs['kind'],
  replicas: number,
  extra: Partial<WorkloadObs> = {},
): WorkloadObs {
  return {
    name,
    kind,
    component,
    updateStrategy: kind === 'StatefulSet' ? 'OnDelete' : 'RollingUpdate',
    replicas,
    generation: 1,
    observedGeneration: 1,
    updateRevision: 'r1',
    statusReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    updatedReplicas: replicas,
    ...extra,
  };
}
