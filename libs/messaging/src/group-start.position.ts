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
 * without a committed offset gets the current end committed for the group, so from then on
 * every member and every rebalance starts from a committed position. Only an empty group can
 * be given offsets; when others are already members (they positioned it when they started),
 * it leaves it as it is.
 *
 *   group new, topic ends at [5, 0, 9]            -> commits [5, 0, 9]        positioned [0, 1, 2]
 *   group committed [3, -, 9], ends at [5, 2, 9]  -> commits partition 1 at 2 positioned [1]
 *   group has members                             -> nothing                  positioned []
 */
import type { Admin } from 'kafkajs';

export interface GroupStartPosition {
  /** Partitions given the topic's end as their first committed offset. */
  positioned: number[];
  /** Why nothing was done although partitions had no offset (the group has members). */
  skipped?: string;
}

export async function positionNewGroup(
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets' | 'setOffsets'>,
  groupId: string,
  topic: string,
): Promise<GroupStartPosition> {
  const committed = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
  const has = new Set(committed.filter((p) => Number(p.offset) >= 0).map((p) => p.partition));
  const missing = (await admin.fetchTopicOffsets(topic))
    .filter((p) => !has.has(p.partition))
    .map((p) => ({ partition: p.partition, offset: p.high }))
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
