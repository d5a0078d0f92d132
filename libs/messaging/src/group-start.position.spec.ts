import { positionNewGroup } from './group-start.position';

type SetOffsets = {
  groupId: string;
  topic: string;
  partitions: { partition: number; offset: string }[];
};

function fakeAdmin(committed: Record<number, string>, ends: number[], members = false) {
  const calls: SetOffsets[] = [];
  const admin = {
    fetchOffsets: async () => [
      {
        topic: 't',
        partitions: ends.map((_, partition) => ({
          partition,
          offset: committed[partition] ?? '-1',
          metadata: null,
        })),
      },
    ],
    fetchTopicOffsets: async () =>
      ends.map((high, partition) => ({
        partition,
        offset: String(high),
        high: String(high),
        low: '0',
      })),
    setOffsets: async (a: SetOffsets) => {
      if (members) throw new Error('The consumer group must have no running instances');
      calls.push(a);
    },
  };
  return { admin: admin as unknown as Parameters<typeof positionNewGroup>[0], calls };
}

describe('positionNewGroup', () => {
  it('a new group: every partition starts at the current end, committed before anyone joins', async () => {
    const { admin, calls } = fakeAdmin({}, [5, 0, 9]);
    expect(await positionNewGroup(admin, 'g', 't')).toEqual({ positioned: [0, 1, 2] });
    expect(calls).toEqual([
      {
        groupId: 'g',
        topic: 't',
        partitions: [
          { partition: 0, offset: '5' },
          { partition: 1, offset: '0' },
          { partition: 2, offset: '9' },
        ],
      },
    ]);
  });

  it('only the partitions with no committed offset (a partition added later)', async () => {
    const { admin, calls } = fakeAdmin({ 0: '3', 2: '9' }, [5, 2, 9]);
    expect(await positionNewGroup(admin, 'g', 't')).toEqual({ positioned: [1] });
    expect(calls[0].partitions).toEqual([{ partition: 1, offset: '2' }]);
  });

  it('a group that has committed everywhere is left alone', async () => {
    const { admin, calls } = fakeAdmin({ 0: '5', 1: '0' }, [7, 1]);
    expect(await positionNewGroup(admin, 'g', 't')).toEqual({ positioned: [] });
    expect(calls).toEqual([]);
  });

  it('a group with running members cannot be given offsets: says so, throws nothing', async () => {
    const { admin } = fakeAdmin({}, [1, 1], true);
    expect(await positionNewGroup(admin, 'g', 't')).toEqual({
      positioned: [],
      skipped: 'The consumer group must have no running instances',
    });
  });
});
