/**
 * Where a consumer group that has never committed on a topic starts. kafkajs resolves "the
 * end" (fromBeginning: false) when a member first fetches a partition, and again on the next
 * member after a rebalance as long as nothing was committed. So a message produced after the
 * first member joined can still be skipped: the group rebalances (a second executor joins)
 * before anyone fetched or committed, and the partition's new owner starts at the then end.
 * The chaos lane caught it: a rollout's first 15 commands were published while the two
 * executors were rebalancing and were never executed; the rollout waited for them until its
 * timeout.
 *
 * positionNewGroup() closes that window before the member joins: every partition of `topic`
 * without a committed offset gets a committed first position, so from then on every member
 * and every rebalance starts from it. That position is the first message at or after `since`
 * (the starting member passes its own start time, less a margin for clock skew), or the end
 * when there is none: not the end at the moment of positioning, which on a freshly created
 * topic came 6 s after the executor started (partition leaders still being elected) and
 * skipped the command a rollout had published meanwhile (CI, never-ready e2e: the template
 * change was never applied). Older messages are never replayed to a new group: they were
 * meant for executors that are gone. Only an empty group can be given offsets; when others
 * are already members (they positioned it when they started), it leaves it as it is.
 *
 * Offsets by timestamp `since` = 1000, topic messages at times [[900, 1000, 1100], [], [1200]]:
 *   group new                            -> commits [1, 0, 0]        positioned [0, 1, 2]
 *   group committed [3, -, 1]            -> commits partition 1 at 0 positioned [1]
 *   group has members                    -> nothing                  positioned []
 */
import type { Admin } from 'kafkajs';

export interface GroupStartPosition {
  /** Partitions given the topic's end as their first committed offset. */
  positioned: number[];
  /** Why nothing was done although partitions had no offset (the group has members). */
  skipped?: string;
}

export async function positionNewGroup(
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsetsByTimestamp' | 'setOffsets'>,
  groupId: string,
  topic: string,
  since: number,
): Promise<GroupStartPosition> {
  const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
  const has = new Set(committed.filter((p) => Number(p.offset) >= 0).map((p) => p.partition));
  // kafkajs answers the partition's end where no message is as recent as `since`.
  const missing = (await admin.fetchTopicOffsetsByTimestamp(topic, since))
    .filter((p) => !has.has(p.partition))
    .map((p) => ({ partition: p.partition, offset: p.offset }))
    .sort((a, b) => a.partition - b.partition);
  if (missing.length === 0) return { positioned: [] };
  try {
    await admin.setOffsets({ groupId, topic, partitions: missing });
  } catch (e) {
    // kafkajs refuses to set offsets of a group with running members.
    return { positioned: [], skipped: e instanceof Error ? e.message : String(e) };
  }
  return { positioned: missing.map((p) => p.partition) };
}
