import { positionNewGroup } from './group-start.position';

type SetOffsets = {
  groupId: string;
  topic: string;
  partitions: { partition: number; offset: string }[];
};

/** A topic whose partitions hold messages produced at `times` (epoch ms, in order). */
function fakeAdmin(committed: Record<number, string>, times: number[][], members = false) {
  const calls: SetOffsets[] = [];
  const admin = {
    fetchOffsets: async () => [
      {
        topic: 't',
        partitions: times.map((_, partition) => ({
          partition,
          offset: committed[partition] ?? '-1',
          metadata: null,
        })),
      },
    ],
    // Kafka's ListOffsets by timestamp: the first message at or after it, else the end.
    fetchTopicOffsetsByTimestamp: async (_topic: string, since: number) =>
      times.map((ts, partition) => {
        const i = ts.findIndex((t) => t >= since);
        return { partition, offset: String(i === -1 ? ts.length : i) };
      }),
    setOffsets: async (a: SetOffsets) => {
      if (members) throw new Error('The consumer group must have no running instances');
      calls.push(a);
    },
  };
  return { admin: admin as unknown as Parameters<typeof positionNewGroup>[0], calls };
}

// The worked examples of the doc comment: since = 1000.
const TIMES = [[900, 1000, 1100], [], [1200]];

describe('positionNewGroup', () => {
  it('a new group: every partition starts at its first message since `since` (else its end), committed before anyone joins', async () => {
    const { admin, calls } = fakeAdmin({}, TIMES);
    expect(await positionNewGroup(admin, 'g', 't', 1000)).toEqual({ positioned: [0, 1, 2] });
    expect(calls).toEqual([
      {
        groupId: 'g',
        topic: 't',
        partitions: [
          { partition: 0, offset: '1' },
          { partition: 1, offset: '0' },
          { partition: 2, offset: '0' },
        ],
      },
    ]);
  });

  it('messages older than `since` are not replayed: the end when all are older', async () => {
    const { admin, calls } = fakeAdmin({}, [[100, 200, 300]]);
    await positionNewGroup(admin, 'g', 't', 1000);
    expect(calls[0].partitions).toEqual([{ partition: 0, offset: '3' }]);
  });

  it('only the partitions with no committed offset (a partition added later)', async () => {
    const { admin, calls } = fakeAdmin({ 0: '3', 2: '1' }, TIMES);
    expect(await positionNewGroup(admin, 'g', 't', 1000)).toEqual({ positioned: [1] });
    expect(calls[0].partitions).toEqual([{ partition: 1, offset: '0' }]);
  });

  it('a group that has committed everywhere is left alone', async () => {
    const { admin, calls } = fakeAdmin({ 0: '5', 1: '0' }, [[1], [1]]);
    expect(await positionNewGroup(admin, 'g', 't', 1000)).toEqual({ positioned: [] });
    expect(calls).toEqual([]);
  });

  it('a group with running members cannot be given offsets: says so, throws nothing', async () => {
    const { admin } = fakeAdmin({}, [[1], [1]], true);
    expect(await positionNewGroup(admin, 'g', 't', 1000)).toEqual({
      positioned: [],
      skipped: 'The consumer group must have no running instances',
    });
  });
});
