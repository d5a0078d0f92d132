import { parseListQuery } from './list-query';
import { EVENT_ID } from './rollout.http.controller';

describe('parseListQuery (GET /v1/rollouts)', () => {
  it('passes a valid filter through', () => {
    expect(
      parseListQuery({ status: 'running,paused', cluster: 'prod-eu', limit: '50', cursor: 'c' }),
    ).toEqual({
      ok: true,
      value: { status: ['running', 'paused'], cluster: 'prod-eu', limit: 50, cursor: 'c' },
    });
    expect(parseListQuery({})).toEqual({ ok: true, value: {} });
  });

  // Found by schemathesis: ?cluster=%00 reached Postgres ("invalid byte sequence") and was a 500.
  it('refuses a NUL character in a filter, naming the parameter', () => {
    expect(parseListQuery({ cluster: '\0' })).toEqual({
      ok: false,
      problems: ['cluster: must not contain a NUL character'],
    });
    expect(parseListQuery({ cursor: 'a\0' })).toMatchObject({ ok: false });
  });

  // Found by schemathesis: ?cluster= was a filter that matched nothing (200), not a 400.
  it('refuses an empty cluster or cursor', () => {
    expect(parseListQuery({ cluster: '' })).toEqual({
      ok: false,
      problems: ['cluster: empty (leave it out instead)'],
    });
    expect(parseListQuery({ cursor: '' })).toMatchObject({ ok: false });
  });

  // Found by schemathesis: ?=false was accepted (200) and silently ignored.
  it('refuses an unknown parameter', () => {
    expect(parseListQuery({ '': 'false' })).toEqual({
      ok: false,
      problems: ['"": unknown query parameter (one of status, cluster, limit, cursor)'],
    });
  });

  it('names every problem: status, limit, a repeated single value', () => {
    const r = parseListQuery({ status: ['running', 'nope'], limit: '1.5', cluster: ['a', 'b'] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      expect.stringMatching(/^status: unknown value\(s\) "nope"/),
      'cluster: give it once, as a plain value',
      'limit: an integer 1-500',
    ]);
    expect(parseListQuery({ limit: '0' })).toMatchObject({ ok: false });
    expect(parseListQuery({ limit: '501' })).toMatchObject({ ok: false });
    expect(parseListQuery({ limit: '' })).toMatchObject({ ok: false });
  });
});

describe('EVENT_ID (GET /v1/rollouts/{id}/events?after=)', () => {
  // ?after= with 19+ digits overflowed the bigint cast in Postgres: a 500, not a 400.
  it('accepts what fits a bigint, refuses longer', () => {
    expect(EVENT_ID.test('123')).toBe(true);
    expect(EVENT_ID.test('9'.repeat(18))).toBe(true);
    expect(EVENT_ID.test('9'.repeat(19))).toBe(false);
    expect(EVENT_ID.test('')).toBe(false);
    expect(EVENT_ID.test('1e3')).toBe(false);
  });
});
