import { isNewerObservation } from './cluster-state.schema';

const at = (resourceVersion: string, observedAt: number) => ({ resourceVersion, observedAt });

describe('isNewerObservation', () => {
  it.each([
    [at('10', 1), undefined, true],
    [at('10', 1), at('9', 5), true],
    [at('9', 9), at('10', 5), false],
    // Same object version, re-published because a derived field (probe result) changed.
    [at('10', 6), at('10', 5), true],
    [at('10', 5), at('10', 5), false],
    [at('10', 4), at('10', 5), false],
    [at('100000000000000000001', 1), at('100000000000000000000', 2), true],
    // Not integers: only equality is meaningful.
    [at('b', 1), at('a', 2), true],
    [at('a', 2), at('a', 1), true],
  ])('%j over %j -> %s', (next, held, expected) => {
    expect(isNewerObservation(next, held)).toBe(expected);
  });
});
