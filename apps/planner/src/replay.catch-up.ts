/**
 * How far a replay of the compacted state topics has to go before the planner's view counts
 * as caught up: each partition up to the last offset it held when the replay began. Until
 * then the view is a prefix of each partition: workloads not read yet look gone, and a pod's
 * older observation may stand in for its newer one. Decisions must not be taken on that
 * (found by the chaos lane: a planner started during a Kafka outage became leader while its
 * replay was still running and halted alertmanager with "workload mimir-alertmanager no longer
 * exists"), so the planner starts competing for leadership only once `done` resolves.
 *
 *   ends [{ t/0: low 0, high 5 }, { t/1: low 3, high 3 }]  -> waits for t/0 to reach 4 (t/1 is empty)
 *   advance('t', 0, '2') -> false; advance('t', 0, '4') -> true (caught up, `done` resolves)
 */
export interface PartitionEnd {
  topic: string;
  partition: number;
  low: string;
  high: string;
}

export class ReplayCatchUp {
  /** `topic/partition` -> the offset still to reach. */
  private readonly goals = new Map<string, bigint>();
  private resolve!: () => void;
  /** Resolves once every partition is read up to its end at the start (at once if all were empty). */
  readonly done = new Promise<void>((r) => (this.resolve = r));

  constructor(ends: readonly PartitionEnd[]) {
    for (const e of ends)
      if (BigInt(e.high) > BigInt(e.low))
        this.goals.set(`${e.topic}/${e.partition}`, BigInt(e.high) - 1n);
    if (this.goals.size === 0) this.resolve();
  }

  get caughtUp(): boolean {
    return this.goals.size === 0;
  }

  /** A batch of `topic`/`partition` was applied up to `lastOffset`; true when that completed the replay. */
  advance(topic: string, partition: number, lastOffset: string): boolean {
    const key = `${topic}/${partition}`;
    const goal = this.goals.get(key);
    if (goal === undefined || BigInt(lastOffset) < goal) return false;
    this.goals.delete(key);
    if (this.goals.size > 0) return false;
    this.resolve();
    return true;
  }
}
