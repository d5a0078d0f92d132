import { ReplayCatchUp } from './replay.catch-up';

const end = (topic: string, partition: number, low: number, high: number) => ({
  topic,
  partition,
  low: String(low),
  high: String(high),
});

describe('ReplayCatchUp', () => {
  it('waits for every non-empty partition to be read up to its end at the start', async () => {
    const c = new ReplayCatchUp([
      end('pods', 0, 0, 5),
      end('pods', 1, 3, 3),
      end('workloads', 0, 0, 2),
    ]);
    let done = false;
    void c.done.then(() => (done = true));
    expect(c.advance('pods', 0, '2')).toBe(false);
    expect(c.advance('pods', 1, '9')).toBe(false); // empty at the start: nothing to wait for
    expect(c.advance('pods', 0, '4')).toBe(false);
    expect(c.caughtUp).toBe(false);
    await Promise.resolve();
    expect(done).toBe(false);
    expect(c.advance('workloads', 0, '1')).toBe(true);
    expect(c.caughtUp).toBe(true);
    await c.done;
    // Later batches (the topics go on) change nothing.
    expect(c.advance('pods', 0, '40')).toBe(false);
  });

  it('empty topics: caught up at once', async () => {
    const c = new ReplayCatchUp([end('pods', 0, 7, 7)]);
    expect(c.caughtUp).toBe(true);
    await expect(c.done).resolves.toBeUndefined();
  });

  it('a batch past the goal (compaction left gaps) counts', () => {
    const c = new ReplayCatchUp([end('pods', 0, 0, 100)]);
    expect(c.advance('pods', 0, '250')).toBe(true);
  });
});
