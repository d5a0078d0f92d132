/**
 * What the executor does with one `rollout.commands` message: parse it, act through Kubernetes
 * (the CommandRunnerPort: KubeCommandRunner in production, a fake in unit tests), publish the
 * outcome (the ResultSink) and only then let the consumer commit the offset (by resolving).
 *
 * | situation                                   | result published            | then                    |
 * |---------------------------------------------|-----------------------------|-------------------------|
 * | invalid message (JSON, envelope, schema)    | none (no command id to use) | PermanentError -> dead letter, commit |
 * | command id completed recently (redelivery)  | the same result again       | commit (no Kubernetes call) |
 * | cluster not in RINGMASTER_CONTEXTS           | failed, naming the clusters | PermanentError -> dead letter, commit |
 * | done / already-done / failed (from the runner) | that outcome, generation  | commit                  |
 * | eviction refused by a PDB, within deadline  | refused (the budget's text) | RetriableError: no commit; the partition pauses and the command is retried after a backoff |
 * | eviction refused, deadline passed           | refused (final)             | commit                  |
 * | retriable error (5xx, timeout, reset)       | none                        | RetriableError: retried with backoff, no commit |
 * | connect failures for EXECUTOR_UNREACHABLE_AFTER_MS | unreachable (says whether an earlier attempt may have acted) | commit |
 * | retriable errors past EXECUTOR_RETRY_BUDGET_MS | failed, with the last error | commit                |
 * | any other error of the runner (a bug)       | failed                      | PermanentError -> dead letter, commit |
 * | result publish fails                        | -                           | RetriableError; the result is kept, so the retry re-publishes it without Kubernetes |
 *
 * Why PDB refusals are not waited out inside the handler: kafkajs fetches again only when every
 * batch of the last fetch is handled, and heartbeats between messages. A handler that sleeps
 * through a 2-minute refusal loop would stall every other partition (other clusters) and miss
 * the group's session timeout. So each handling makes one eviction attempt
 * (`refusalDeadlineMs: 0`), and the waiting happens in the ConsumerRunner's retry backoff, which
 * pauses only this partition: later commands of the same cluster stay behind it (order), other
 * clusters' partitions keep flowing. The deadline is counted here, per command id, from the
 * first refusal.
 *
 * Why `unreachable`: commands are keyed by cluster, but several clusters share a partition (6
 * partitions, any number of clusters). A command retried in place holds every later command of
 * its partition, so one cluster cut off would stall the clusters hashed next to it (in the
 * chaos lane kwok-ringmaster-1 and -2 share partition 0). When the attempts of a command have
 * failed to connect at all (refused, no route, DNS) for a short while, the cluster is away: the
 * executor says so and moves on; the planner blocks that target ("cluster X unreachable since
 * ..."), keeps a pod restart's slot (counted down) and sends the command again once the cluster
 * is back: a restart with the same uid precondition, a template change as the same idempotent
 * patch. So it is safe even when an earlier attempt was cut off mid-request and may have acted
 * (the detail says so; "nothing was done" only when every attempt failed to connect). Errors
 * from a cluster that answers (5xx, timeouts, resets) are retried in place as before.
 *
 * Duplicates are harmless: a command carries an id (results are keyed by it) and a pod restart a
 * uid precondition, so a redelivered restart-pod whose pod was replaced meanwhile is
 * `already-done`. The bounded map of completed ids answers redeliveries without asking
 * Kubernetes again; it is in memory, so after a restart or on another executor the
 * uid/idempotent patch path answers instead.
 */
import type { CommandMessage, CommandResultMessage } from '@ringmaster/contracts';
import {
  CommandMessageSchema,
  ContractViolationError,
  fromCommandMessage,
  toCommandResultMessage,
} from '@ringmaster/contracts';
import type { EvictionRefusal, KubeCommandResult } from '@ringmaster/kube';
import { KubeRetriableError, isConnectFailure } from '@ringmaster/kube';
import {
  PermanentError,
  RetriableError,
  classifyError,
  errorReason,
  schemaHandler,
  type InboundMessage,
  type MessageHandler,
  type RunnerLogger,
} from '@ringmaster/messaging';
import type { Command, CommandOutcome } from '@ringmaster/rollout-core';
import { BoundedMap } from './bounded.map';

/** Acts on a command in its cluster (KubeCommandRunner satisfies it). */
export interface CommandRunnerPort {
  run(
    cmd: Command,
    restart: { refusalDeadlineMs: number; onRefused: (refusal: EvictionRefusal) => void },
  ): Promise<KubeCommandResult>;
}

/** Where results go (the Kafka publisher; a list in unit tests). Resolves once stored. */
export interface ResultSink {
  publish(result: CommandResultMessage): Promise<void>;
}

export interface CommandHandlerOptions {
  executorId: string;
  /** Cluster names this executor can act on. */
  clusters: Iterable<string>;
  runner: CommandRunnerPort;
  sink: ResultSink;
  /** PDB refusals of one command are retried this long (from the first) before the final `refused`. */
  refusalDeadlineMs: number;
  /** Retriable errors of one command are retried this long before `failed`; 0: forever. */
  retryBudgetMs: number;
  /**
   * A command whose attempts have failed to connect for this long (no other error in between)
   * is reported `unreachable` (default 2000; 0: at the first connect failure).
   */
  unreachableAfterMs?: number;
  completedCacheSize: number;
  clock?: () => number;
  logger?: RunnerLogger;
}

export interface HandlerStats {
  /** Calls into Kubernetes (the runner). */
  runs: number;
  /** Results re-published for redelivered, already completed commands. */
  redelivered: number;
  published: Record<CommandOutcome, number>;
}

/** Limit of the result's `detail` (CommandResultMessageSchema). */
const MAX_DETAIL = 4096;

interface Completed {
  result: CommandResultMessage;
  /** Set when the command also goes to the dead-letter topic (unknown cluster, executor bug). */
  deadLetter?: string;
}

/** Retries of a command not yet completed. */
interface Progress {
  firstRefusalAt?: number;
  refusals: number;
  firstErrorAt?: number;
  errors: number;
  /** Some failed attempt may have reached the API server (not a connect failure). */
  mayHaveActed?: boolean;
  /** First of the connect failures in a row (reset by any other error). */
  connectFailingSince?: number;
}

export const DEFAULT_UNREACHABLE_AFTER_MS = 2_000;

const silent: RunnerLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export class CommandMessageHandler {
  /** The ConsumerRunner's handler: parse (invalid -> PermanentError with the reason), then act. */
  readonly handle: MessageHandler;

  private readonly clusters: ReadonlySet<string>;
  private readonly completed: BoundedMap<string, Completed>;
  private readonly progress: BoundedMap<string, Progress>;
  private readonly clock: () => number;
  private readonly log: RunnerLogger;
  private readonly stats_: HandlerStats = {
    runs: 0,
    redelivered: 0,
    published: { done: 0, 'already-done': 0, refused: 0, failed: 0, unreachable: 0 },
  };

  constructor(private readonly options: CommandHandlerOptions) {
    this.clusters = new Set(options.clusters);
    this.completed = new BoundedMap(options.completedCacheSize);
    this.progress = new BoundedMap(options.completedCacheSize);
    this.clock = options.clock ?? Date.now;
    this.log = options.logger ?? silent;
    this.handle = schemaHandler(CommandMessageSchema, (m, inbound) => this.execute(m, inbound));
  }

  stats(): HandlerStats {
    return {
      ...this.stats_,
      published: { ...this.stats_.published },
    };
  }

  private async execute(message: CommandMessage, inbound: InboundMessage): Promise<void> {
    const cmd = fromCommandMessage(message);
    const cluster = cmd.target.cluster;

    const seen = this.completed.get(cmd.id);
    if (seen) {
      // A redelivery (rebalance, lost commit, publish retry): same answer, no second action.
      this.stats_.redelivered++;
      this.log.log(
        `${cmd.id}: already completed (${seen.result.outcome}); re-publishing its result`,
      );
      await this.publish(seen.result);
      if (seen.deadLetter) throw new PermanentError(seen.deadLetter);
      return;
    }

    if (inbound.key !== cluster) {
      // Order per cluster rests on the key; a wrong key is the producer's bug, but the command
      // itself is still valid, so act on it and say so.
      this.log.warn(
        `${cmd.id}: message key ${JSON.stringify(inbound.key)} is not its cluster "${cluster}"; per-cluster order is not guaranteed for it`,
      );
    }

    if (!this.clusters.has(cluster)) {
      const reason = `unknown cluster "${cluster}": this executor reaches ${[...this.clusters].join(', ') || 'none'} (RINGMASTER_CONTEXTS)`;
      return this.complete(cmd, { outcome: 'failed', detail: reason }, reason);
    }

    let refusal: EvictionRefusal | undefined;
    let result: KubeCommandResult;
    this.stats_.runs++;
    try {
      // One eviction attempt per handling; see the file comment for where the waiting happens.
      result = await this.options.runner.run(cmd, {
        refusalDeadlineMs: 0,
        onRefused: (r) => (refusal = r),
      });
    } catch (e) {
      if (e instanceof KubeRetriableError || classifyError(e) === 'retriable')
        return this.retryOrGiveUp(cmd, e);
      const reason = `executor error on ${describeCommand(cmd)}: ${errorReason(e)}`;
      return this.complete(cmd, { outcome: 'failed', detail: reason }, reason);
    }

    if (result.outcome === 'refused' && cmd.kind === 'restart-pod')
      return this.refusedOrGiveUp(cmd, result, refusal);
    return this.complete(cmd, result);
  }

  /** A PDB refused the eviction: report it and retry later, or give up past the deadline. */
  private async refusedOrGiveUp(
    cmd: Command,
    result: KubeCommandResult,
    refusal: EvictionRefusal | undefined,
  ): Promise<void> {
    const now = this.clock();
    const p = this.progressOf(cmd.id);
    p.firstRefusalAt ??= now;
    p.refusals++;
    const elapsed = now - p.firstRefusalAt;
    const why = refusal?.message ?? result.detail ?? 'refused by a PodDisruptionBudget';
    if (elapsed < this.options.refusalDeadlineMs) {
      const left = this.options.refusalDeadlineMs - elapsed;
      await this.publish(
        this.resultOf(cmd, {
          outcome: 'refused',
          detail: `eviction refused (${p.refusals} time(s)); retrying for up to ${Math.ceil(left / 1000)} s more: ${why}`,
        }),
      );
      throw new RetriableError(
        `${describeCommand(cmd)}: eviction refused by a PodDisruptionBudget (${p.refusals} time(s)); retrying`,
      );
    }
    return this.complete(cmd, {
      outcome: 'refused',
      detail: `eviction refused ${p.refusals} time(s) over ${Math.round(elapsed / 1000)} s; giving up: ${why}`,
    });
  }

  /** A retriable error: no commit (the runner retries with backoff), or `failed` past the budget. */
  private retryOrGiveUp(cmd: Command, error: unknown): Promise<void> {
    const now = this.clock();
    const p = this.progressOf(cmd.id);
    p.firstErrorAt ??= now;
    p.errors++;
    const elapsed = now - p.firstErrorAt;
    if (isConnectFailure(error)) p.connectFailingSince ??= now;
    else {
      p.mayHaveActed = true;
      p.connectFailingSince = undefined;
    }
    const unreachableAfter = this.options.unreachableAfterMs ?? DEFAULT_UNREACHABLE_AFTER_MS;
    if (p.connectFailingSince !== undefined && now - p.connectFailingSince >= unreachableAfter) {
      const away = Math.round((now - p.connectFailingSince) / 1000);
      return this.complete(cmd, {
        outcome: 'unreachable',
        detail: `no connection to cluster ${cmd.target.cluster} for ${away} s (${p.errors} failed attempt(s)); ${p.mayHaveActed ? 'an earlier attempt was cut off mid-request and may have acted' : 'nothing was done'}: ${errorReason(error)}`,
      });
    }
    const budget = this.options.retryBudgetMs;
    if (budget > 0 && elapsed >= budget) {
      return this.complete(cmd, {
        outcome: 'failed',
        detail: `gave up after ${p.errors} attempt(s) over ${Math.round(elapsed / 1000)} s of retriable errors; last: ${errorReason(error)}`,
      });
    }
    throw new RetriableError(`${describeCommand(cmd)}: ${errorReason(error)}`, { cause: error });
  }

  /** Final outcome: remember it (before publishing, so a failed publish is retried from memory). */
  private async complete(
    cmd: Command,
    result: KubeCommandResult,
    deadLetter?: string,
  ): Promise<void> {
    const message = this.resultOf(cmd, result);
    this.completed.set(cmd.id, { result: message, ...(deadLetter ? { deadLetter } : {}) });
    this.progress.delete(cmd.id);
    this.log.log(
      `${cmd.id} ${describeCommand(cmd)}: ${result.outcome}${result.detail ? ` (${result.detail})` : ''}`,
    );
    await this.publish(message);
    if (deadLetter) throw new PermanentError(deadLetter);
  }

  private async publish(result: CommandResultMessage): Promise<void> {
    try {
      await this.options.sink.publish(result);
    } catch (e) {
      // The action is done; only the report is missing. Retrying the message re-publishes the
      // kept result. A result that breaks its own contract would fail forever: that is a bug.
      if (e instanceof ContractViolationError)
        throw new PermanentError(`result of ${result.commandId}: ${e.message}`, { cause: e });
      throw new RetriableError(
        `could not publish the result of ${result.commandId}: ${errorReason(e)}`,
        { cause: e },
      );
    }
    this.stats_.published[result.outcome]++;
  }

  private resultOf(cmd: Command, r: KubeCommandResult): CommandResultMessage {
    return toCommandResultMessage({
      commandId: cmd.id,
      rolloutId: cmd.rolloutId,
      target: cmd.target,
      outcome: r.outcome,
      ...(r.detail !== undefined ? { detail: truncate(r.detail, MAX_DETAIL) } : {}),
      ...(r.generation !== undefined ? { generation: r.generation } : {}),
      executor: this.options.executorId,
      at: this.clock(),
    });
  }

  private progressOf(id: string): Progress {
    let p = this.progress.get(id);
    if (!p) {
      p = { refusals: 0, errors: 0 };
      this.progress.set(id, p);
    }
    return p;
  }
}

/** `restart-pod eu-1/mimir/mimir-ingester-zone-a-0` */
export function describeCommand(cmd: Command): string {
  const where = `${cmd.target.cluster}/${cmd.target.namespace}`;
  return cmd.kind === 'restart-pod'
    ? `${cmd.kind} ${where}/${cmd.pod}`
    : `${cmd.kind} ${where}/${cmd.workload}`;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
