import { InvalidCursorError } from './persistence.errors';
import { decodeCursor, encodeCursor } from './rollout.repository';

const ID = '0b6f3c1e-2f4a-4c8e-9d6b-1a2b3c4d5e6f';

describe('list cursor', () => {
  it('round-trips what Postgres prints for created_at', () => {
    for (const ts of ['2026-11-27 11:20:23.123456+00', '2024-02-29 23:59:59-05:30']) {
      expect(decodeCursor(encodeCursor(ts, ID))).toEqual({ createdAt: ts, id: ID });
    }
  });

  // Found while fuzzing the list: the shape check alone let this reach Postgres (500).
  it('refuses a well-shaped timestamp that is not on the calendar', () => {
    for (const ts of [
      '2026-99-99 99:99:99+00',
      '2026-02-30 00:00:00+00',
      '2026-01-01 24:00:00+00',
      '2026-01-01 00:00:00+99',
    ]) {
      expect(() => decodeCursor(encodeCursor(ts, ID))).toThrow(InvalidCursorError);
    }
  });
});
