/**
 * The rollout core's data model. Everything here is plain data (JSON-serializable), so the
 * planner can persist it as is and the simulator can run it in virtual time.
 *
 * Times are epoch milliseconds passed in by the caller (`now`); the core never reads a clock.
 */

export type DeploymentMode = 'monolithic' | 'microservices';
export type WorkloadKind = 'StatefulSet' | 'Deployment';
export type UpdateStrategy = 'OnDelete' | 'RollingUpdate';
export type RestartMethod = 'evict' | 'delete';

/** A namespace in a cluster: the unit a rollout rolls. */
export interface TargetRef {
  cluster: string;
  namespace: string;
}

/** `cluster/namespace`: the key of a target everywhere (state, topics, REST). */
export type TargetKey = string;

export function targetKey(t: TargetRef): TargetKey {
  return `${t.cluster}/${t.namespace}`;
}

export function parseTargetKey(key: TargetKey): TargetRef {
  const i = key.indexOf('/');
  return { cluster: key.slice(0, i), namespace: key.slice(i + 1) };
}

// ---------------------------------------------------------------- observations

/** A workload as the health watcher last saw it. */
export interface WorkloadObs {
  name: string;
  kind: WorkloadKind;
  component: string;
  /** Zone of a zone-aware workload (`zone` label), absent otherwise. */
  zone?: string;
  updateStrategy: UpdateStrategy;
  /** Desired replicas (spec). */
  replicas: number;
  generation: number;
  observedGeneration: number;
  /** StatefulSet: status.updateRevision. Deployment: the pod-template-hash of the newest ReplicaSet, if known. */
  updateRevision: string;
  /** Pods in any state (status.replicas), ready ones, and ones at the update revision. */
  statusReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  updatedReplicas: number;
  /** Replication factor, where the workload declares it (annotation), else the component default. */
  replicationFactor?: number;
  /** Cap on pods of one zone restarted at once (the chart's `rollout-max-unavailable`). */
  maxUnavailablePerZone?: number;
  /** Deployment only: spec.paused. */
  paused?: boolean;
}

/** `/ready` as probed over HTTP by the health watcher, where a component is configured for it. */
export type ReadyProbe = 'ok' | 'failing' | 'unknown';

/** A pod as the health watcher last saw it. */
export interface PodObs {
  name: string;
  uid: string;
  workload: string;
  component: string;
  zone?: string;
  /** controller-revision-hash (StatefulSet) or pod-template-hash (Deployment). */
  revision: string;
  /** Ready condition is True and the pod is not terminating. */
  ready: boolean;
  /** When the Ready condition last became True (epoch ms). */
  readySince?: number;
  terminating?: boolean;
  /** Result of `GET /ready`, where probed. */
  probe?: ReadyProbe;
}

/** Why and since when a target's cluster cannot be reached. */
export interface Unreachable {
  /** Epoch ms of the first failure that has not been followed by a success. */
  since: number;
  /** The last error, e.g. `watch pods: connect ECONNREFUSED 10.0.0.1:6443`. */
  reason: string;
}

/** Everything observed in one target, indexed the way decide() reads it. */
export interface ObservedTarget {
  workloads: Record<string, WorkloadObs>;
  /** component -> pod name -> pod */
  pods: Record<string, Record<string, PodObs>>;
  /**
   * Set while the health watcher cannot reach the target's Kubernetes API (its watches fail):
   * `workloads` and `pods` are then the last state seen, not the current one.
   */
  unreachable?: Unreachable;
}

/** Observed state of every target a rollout touches. A missing target means "not seen yet". */
export type ObservedFleet = Record<TargetKey, ObservedTarget | undefined>;

// ---------------------------------------------------------------- rollout spec

export type Change =
  /** Restart only: a template annotation, as `kubectl rollout restart` does. */
  | { kind: 'restart' }
  /** New image for a container (the first container when none is named). */
  | { kind: 'image'; image: string; container?: string }
  /** Template annotations/labels/env to set (a strategic merge of the pod template). */
  | { kind: 'template'; annotations?: Record<string, string>; env?: Record<string, string> };

/** Per-component knobs. Lowering a limit is always allowed; raising one needs `unsafe`. */
export interface ComponentOverride {
  /** Max unavailable instances (non-zone-aware) or per zone (zone-aware). */
  maxUnavailable?: number;
  /** Zone-aware only: how many zones may be disrupted at once (default 1). */
  maxUnavailableZones?: number;
  /** Gate each restart on `/ready` returning 200 (default: monolithic only). */
  probeReady?: boolean;
  /** Acknowledges raising a limit above what the replication factor allows. */
  unsafe?: boolean;
}

export interface RolloutSpec {
  targets: TargetRef[];
  change: Change;
  /** Subset of components; all discovered components when absent or empty. */
  components?: string[];
  overrides?: Record<string, ComponentOverride>;
  /** How long a restarted instance must stay Ready before the next may go. */
  soakSeconds: number;
  /** A restarted instance not back within this halts its component. */
  instanceTimeoutSeconds: number;
  restartMethod: RestartMethod;
  /** Fleet rollouts: how many targets roll at once. */
  maxParallelTargets: number;
  /** Fleet rollouts: this target rolls alone first; the rest wait for it to succeed. */
  canary?: TargetKey;
  /** Take over StatefulSets whose own RollingUpdate strategy would restart pods at its pace. */
  takeOver?: boolean;
}

// ---------------------------------------------------------------- commands (effects as data)

interface CommandBase {
  /** `<rolloutId>:<seq>`: unique, stable across retries, the executor's idempotency key. */
  id: string;
  rolloutId: string;
  target: TargetRef;
}

/** Apply the change to a StatefulSet's template (OnDelete: nothing restarts yet). */
export interface ApplyTemplateCommand extends CommandBase {
  kind: 'apply-template';
  workload: string;
  change: Change;
  /** Also switch updateStrategy to OnDelete (take-over of a RollingUpdate StatefulSet). */
  takeOver: boolean;
}

/** Change a Deployment's template; its controller replaces pods, maxUnavailable at a time. */
export interface RollDeploymentCommand extends CommandBase {
  kind: 'roll-deployment';
  workload: string;
  change: Change;
  maxUnavailable: number;
  /** The rollout's soak, as the Deployment's minReadySeconds: a new pod counts once Ready that long. */
  minReadySeconds: number;
}

/** Pause or resume a Deployment the controller is rolling (pause/abort of a rollout). */
export interface SetDeploymentPausedCommand extends CommandBase {
  kind: 'set-deployment-paused';
  workload: string;
  paused: boolean;
}

/** Restart one pod: evict (respects PDBs) or delete, only if its uid is still `uid`. */
export interface RestartPodCommand extends CommandBase {
  kind: 'restart-pod';
  pod: string;
  uid: string;
  method: RestartMethod;
}

export type Command =
  ApplyTemplateCommand | RollDeploymentCommand | SetDeploymentPausedCommand | RestartPodCommand;

export type CommandOutcome =
  /** Done now. `generation` is the workload's metadata.generation after a template change. */
  | 'done'
  /** Nothing to do: the pod was already replaced (uid differs) or is gone. */
  | 'already-done'
  /** A PodDisruptionBudget refused the eviction; the executor keeps retrying with backoff. */
  | 'refused'
  /** Permanent failure (forbidden, invalid, not found workload, ...). */
  | 'failed'
  /**
   * The executor could not connect to the cluster's API for a while and gave the command
   * back. Usually nothing changed; if an earlier attempt was cut off mid-request it may have
   * acted (`detail` says which). The planner blocks the target and sends the command again
   * (new id) once the cluster is back: a restarted pod keeps its slot meanwhile, and both the
   * restart (uid precondition) and a template change (same patch) are safe to repeat.
   */
  | 'unreachable';

// ---------------------------------------------------------------- rollout state

export type RolloutStatus =
  'pending' | 'running' | 'paused' | 'blocked' | 'succeeded' | 'failed' | 'aborted';
export type TargetStatus = 'pending' | 'running' | 'succeeded' | 'blocked' | 'aborted';
export type ComponentStatus = 'pending' | 'running' | 'succeeded' | 'halted';

/** A pod restart the core asked for and is waiting on. */
export interface InFlight {
  commandId: string;
  uid: string;
  zone?: string;
  issuedAt: number;
  /** Last refusal (PDB) reported by the executor, shown as progress. */
  refused?: string;
  /**
   * The executor could not reach the cluster, so the pod may not have been restarted. It
   * keeps its slot (counted as down: an interrupted attempt may have evicted it, or a late
   * delivery of the old command still could) and the restart goes again, under a new command
   * id and the same uid precondition, once the target is reachable.
   */
  resend?: boolean;
}

/** Progress of one workload of a component. */
export interface WorkloadProgress {
  kind: WorkloadKind;
  /** The template change (StatefulSet) or roll (Deployment) command, once issued. */
  commandId?: string;
  issuedAt?: number;
  /** metadata.generation after the change, reported by the executor. */
  generation?: number;
  /** The revision pods must reach, once the controller has observed the change. */
  targetRevision?: string;
  /** Deployments: the rolled state is reached. */
  done?: boolean;
  /** Deployments: last time updated/ready counts moved, to detect a stalled roll. */
  progressAt?: number;
  progressMark?: string;
  paused?: boolean;
}

export interface ComponentState {
  status: ComponentStatus;
  reason?: string;
  workloads: Record<string, WorkloadProgress>;
  inFlight: Record<string, InFlight>;
  /** pod name -> the uid we restarted: a pod seen again with that uid is a stale observation. */
  restartedUids: Record<string, string>;
  /** Pods restarted and back. */
  restarted: number;
  /** Pods (StatefulSet) or replicas (Deployment) this rollout must replace, once known. */
  total: number;
  /** Highest number of unavailable instances seen while this rollout acted (progress view). */
  maxUnavailableSeen: number;
  /** The zone being rolled (zone-aware components). */
  activeZone?: string;
  /** Why nothing was released last time, when budget or another zone holds it back. */
  waiting?: string;
  waitingSince?: number;
  /** The last full look released all it could while restarts were in flight (see decide.ts). */
  saturated?: boolean;
  /** When this component next needs a look without any new observation (soak end, timeout). */
  wakeAt?: number;
}

export interface TargetState {
  status: TargetStatus;
  reason?: string;
  /**
   * The target's cluster is unreachable (from the watcher's observations, or an executor's
   * `unreachable` result): the target is blocked with the reason until it is reachable again.
   * `retryAt`: an executor could not connect; its commands go again at that time.
   */
  unreachable?: Unreachable & { retryAt?: number };
  startedAt?: number;
  endedAt?: number;
  components: Record<string, ComponentState>;
}

export interface AuditEntry {
  at: number;
  type: string;
  message: string;
}

export interface RolloutState {
  id: string;
  spec: RolloutSpec;
  status: RolloutStatus;
  reason?: string;
  createdAt: number;
  startedAt?: number;
  endedAt?: number;
  /** Next command sequence number (command ids are `<id>:<seq>`). */
  seq: number;
  /** Status before a pause, restored by resume. */
  pausedFrom?: RolloutStatus;
  /** Target keys in roll order (canary first). */
  order: TargetKey[];
  targets: Record<TargetKey, TargetState>;
}

// ---------------------------------------------------------------- inputs and decisions

export type RolloutEvent =
  /** Observed state changed in a target (only `component`, when given). */
  | { kind: 'observed'; target: TargetKey; component?: string }
  | {
      kind: 'command-result';
      commandId: string;
      outcome: CommandOutcome;
      detail?: string;
      generation?: number;
    }
  /** A timer fired (see Decision.wakeAt). */
  | { kind: 'tick' }
  | { kind: 'pause'; reason?: string }
  | { kind: 'resume' }
  | { kind: 'abort'; reason?: string };

export interface DecideInput {
  event: RolloutEvent;
  observed: ObservedFleet;
}

export interface Decision {
  state: RolloutState;
  commands: Command[];
  status: RolloutStatus;
  /** What happened, for the audit trail (one entry per notable step). */
  audit: AuditEntry[];
  /** Earliest time decide() wants a `tick` (soak ends, timeouts); undefined = no timer needed. */
  wakeAt?: number;
}
