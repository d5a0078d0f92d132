import { RetriableError, PermanentError } from '@ringmaster/messaging';
import { ClusterStatePublisher, type StateSink } from './cluster-state.publisher';
import type { PublishedMessage } from './target-reachability.tracker';

/** A tombstone is enough to follow keys through the queue. */
const msg = (key: string): PublishedMessage => ({ topic: 'pods', key, value: null });
const keys = (batch: readonly PublishedMessage[]) => batch.map((m) => m.key);
const fast = { initialMs: 2, maxMs: 5, factor: 2 };

/** A sink that records batches and fails the next `failures` sends with `error`. */
function recordingSink(failures = 0, error: Error = new RetriableError('broker away')) {
  const batches: string[][] = [];
  let attempts = 0;
  const sink: StateSink = {
    send: async (batch) => {
      attempts++;
      if (failures > 0) {
        failures--;
        throw error;
      }
      batches.push(keys(batch));
    },
  };
  return { sink, batches, attempts: () => attempts };
}

const logs = () => {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      warn: (m: string) => lines.push(`warn ${m}`),
      error: (m: string) => lines.push(`error ${m}`),
    },
  };
};

describe('ClusterStatePublisher', () => {
  it('coalesces what arrives within the linger into one batch, in order', async () => {
    const { sink, batches } = recordingSink();
    const p = new ClusterStatePublisher(sink, { lingerMs: 20 });
    p.publish([msg('a')]);
    p.publish([msg('b'), msg('c')]);
    p.publish([msg('a')]);
    expect(await p.flush(1000)).toBe(true);
    expect(batches).toEqual([['a', 'b', 'c', 'a']]);
    expect(p.stats()).toMatchObject({ pending: 0, sent: 4, batches: 1, failures: 0 });
  });

  it('sends the first message after a quiet spell only after the linger', async () => {
    const { sink, batches } = recordingSink();
    const p = new ClusterStatePublisher(sink, { lingerMs: 60 });
    p.publish([msg('a')]);
    await new Promise((r) => setTimeout(r, 20));
    p.publish([msg('b')]);
    expect(batches).toEqual([]);
    await new Promise((r) => setTimeout(r, 120));
    expect(batches).toEqual([['a', 'b']]);
  });

  it('splits a burst into batches of maxBatch, keeping queue order', async () => {
    const { sink, batches } = recordingSink();
    const p = new ClusterStatePublisher(sink, { lingerMs: 0, maxBatch: 3 });
    p.publish(['1', '2', '3', '4', '5', '6', '7'].map(msg));
    await p.flush(1000);
    expect(batches).toEqual([['1', '2', '3'], ['4', '5', '6'], ['7']]);
  });

  it('retries a failed batch with backoff until it goes, and later batches wait for it', async () => {
    const { sink, batches, attempts } = recordingSink(3);
    const { lines, logger } = logs();
    const p = new ClusterStatePublisher(sink, { lingerMs: 0, maxBatch: 2, backoff: fast, logger });
    p.publish([msg('a'), msg('b'), msg('c')]);
    await new Promise((r) => setTimeout(r, 1));
    expect(p.stats().failingSince).toBeDefined();
    expect(p.stats().lastError).toBe('RetriableError: broker away');
    await p.flush(1000);
    expect(attempts()).toBe(5);
    expect(batches).toEqual([['a', 'b'], ['c']]);
    expect(p.stats()).toMatchObject({ failures: 3, sent: 3 });
    expect(p.stats().failingSince).toBeUndefined();
    expect(
      lines.filter((l) => l.startsWith('warn send of 2 state messages failed (retriable)')),
    ).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/^warn publishing recovered after \d+ ms \(3 retries\)$/);
  });

  it('never skips a batch, even on an error classified permanent (logged as an error)', async () => {
    const { sink, batches } = recordingSink(2, new PermanentError('not authorized'));
    const { lines, logger } = logs();
    const p = new ClusterStatePublisher(sink, { lingerMs: 0, backoff: fast, logger });
    p.publish([msg('a')]);
    await p.flush(1000);
    expect(batches).toEqual([['a']]);
    expect(
      lines.filter((l) => l.startsWith('error send of 1 state messages failed (permanent)')),
    ).toHaveLength(2);
  });

  it('waits quietly while the sink is not ready', async () => {
    let ready = false;
    const batches: string[][] = [];
    const { lines, logger } = logs();
    const p = new ClusterStatePublisher(
      { ready: () => ready, send: async (b) => void batches.push(keys(b)) },
      { lingerMs: 0, logger },
    );
    p.publish([msg('a')]);
    await new Promise((r) => setTimeout(r, 150));
    expect(batches).toEqual([]);
    expect(p.stats()).toMatchObject({ pending: 1, failures: 0 });
    ready = true;
    await p.flush(1000);
    expect(batches).toEqual([['a']]);
    expect(lines).toEqual([]);
  });

  it('during a long outage keeps only the newest message per key', async () => {
    const { sink, batches } = recordingSink(Number.POSITIVE_INFINITY);
    const { lines, logger } = logs();
    const p = new ClusterStatePublisher(sink, {
      lingerMs: 0,
      maxBatch: 1,
      compactAbove: 5,
      backoff: fast,
      logger,
    });
    p.publish([msg('first')]); // goes in flight and fails
    await new Promise((r) => setTimeout(r, 1));
    p.publish(['a', 'b', 'a', 'c', 'b', 'a'].map(msg));
    expect(p.stats()).toMatchObject({ pending: 4, compactions: 1 }); // first + c, b, a
    expect(lines.some((l) => l.includes('kept the newest per key: 6 -> 3'))).toBe(true);
    expect(await p.close(50)).toBe(4);
    expect(batches).toEqual([]);
  });

  it('close() flushes what is queued, then stops', async () => {
    const { sink, batches } = recordingSink();
    const p = new ClusterStatePublisher(sink, { lingerMs: 1000 });
    p.publish([msg('a')]);
    expect(await p.close(1000)).toBe(0);
    expect(batches).toEqual([['a']]);
    p.publish([msg('late')]);
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([['a']]);
  });
});
