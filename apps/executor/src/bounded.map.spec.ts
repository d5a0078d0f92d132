import { BoundedMap } from './bounded.map';

describe('BoundedMap', () => {
  it('keeps the newest `limit` entries; a re-set key counts as new', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 10).set('c', 3); // 'b' is the oldest now
    expect([m.get('a'), m.get('b'), m.get('c'), m.size]).toEqual([10, undefined, 3, 2]);
  });

  it('refuses a limit below 1', () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
  });
});
