/**
 * Reads a compacted state topic once, from the beginning to its end as of now, and returns the
 * keys that are still live (last value not a tombstone) with the resourceVersion of their last
 * value. The health watcher does this at startup so it can tombstone objects that were deleted
 * while no watcher ran: the watcher itself keeps no state between runs, the topic does.
 *
 * How: the partitions' high watermarks are fetched first; a throw-away consumer group reads
 * every partition from its beginning until it has passed the watermark it had at the start
 * (messages written after that are this process's own, or a peer's that its watch also sees),
 * then leaves and the group is deleted. Partitions that are empty are not waited for.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface LiveKey {
  /** resourceVersion of the last value, when readable. */
  resourceVersion?: string;
}

export interface ReadLiveKeysOptions {
  /** Keep only keys this accepts (this watcher's targets). */
  accept?: (key: string) => boolean;
  /** Give up after this long (default 60 s); the caller then skips what depends on it. */
  timeoutMs?: number;
  groupPrefix?: string;
  /** Stops reading (shutdown): the promise rejects and the consumer leaves. */
  signal?: AbortSignal;
}

/** topic -> key -> last value's metadata, for keys whose last value is not a tombstone. */
export async function readLiveKeys(
  kafka: Kafka,
  topics: readonly string[],
  opts: ReadLiveKeysOptions = {},
): Promise<Map<string, Map<string, LiveKey>>> {
  const out = new Map<string, Map<string, LiveKey>>(topics.map((t) => [t, new Map()]));
  const admin = kafka.admin();
  await admin.connect();
  // topic/partition -> offset of the last message present at the start.
  const pending = new Map<string, bigint>();
  try {
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = BigInt(p.high);
        if (high > BigInt(p.low)) pending.set(`${topic}/${p.partition}`, high - 1n);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (pending.size === 0) return out;

  const groupId = `${opts.groupPrefix ?? 'ringmaster-health-watcher-seed'}-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`reading ${topics.join(', ')} took over ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (opts.signal?.aborted) return reject(new Error('aborted'));
      opts.signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      void consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            const id = `${topic}/${partition}`;
            const last = pending.get(id);
            if (last === undefined) return;
            const key = message.key?.toString('utf8');
            if (key !== undefined && (opts.accept?.(key) ?? true)) {
              const keys = out.get(topic)!;
              if (message.value === null || message.value.length === 0) keys.delete(key);
              else keys.set(key, { resourceVersion: resourceVersionOf(message.value) });
            }
            if (BigInt(message.offset) >= last) {
              pending.delete(id);
              if (pending.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    const cleanup = kafka.admin();
    await cleanup
      .connect()
      .then(() => cleanup.deleteGroups([groupId]))
      .catch(() => undefined)
      .finally(() => cleanup.disconnect());
  }
  return out;
}

function resourceVersionOf(value: Buffer): string | undefined {
  try {
    const v = JSON.parse(value.toString('utf8')) as { resourceVersion?: unknown };
    return typeof v.resourceVersion === 'string' ? v.resourceVersion : undefined;
  } catch {
    return undefined;
  }
}
