import {
  TargetReachabilityMessageSchema,
  parseReachability,
  reachabilityKey,
} from './reachability.schema';
import { encodeMessage } from './message.parser';

const down = {
  v: 1,
  type: 'cluster.reachability',
  cluster: 'eu-1',
  namespace: 'mimir',
  reachable: false,
  since: 1_735_689_600_000,
  reason: 'watch pods: connect ECONNREFUSED 10.0.0.1:6443',
  observedAt: 1_735_689_610_000,
} as const;

describe('cluster.reachability messages', () => {
  it('round-trips the doc example under its key cluster/namespace', () => {
    const raw = encodeMessage(TargetReachabilityMessageSchema, down);
    expect(reachabilityKey(down)).toBe('eu-1/mimir');
    expect(parseReachability('eu-1/mimir', raw)).toEqual({ ok: true, value: down });
  });

  it.each([
    [
      'another key',
      'eu-1/other',
      JSON.stringify(down),
      /is not the value's cluster\/namespace "eu-1\/mimir"/,
    ],
    ['no key', null, JSON.stringify(down), /key: missing/],
    [
      'a tombstone under a malformed key',
      'eu-1/mimir/x',
      null,
      /of a tombstone is not "cluster\/namespace"/,
    ],
    [
      'no reachable flag',
      'eu-1/mimir',
      JSON.stringify({ ...down, reachable: undefined }),
      /reachable/,
    ],
    [
      'a reason over 2000 characters',
      'eu-1/mimir',
      JSON.stringify({ ...down, reason: 'x'.repeat(2001) }),
      /reason/,
    ],
  ])('refuses %s, naming it', (_what, key, raw, reason) => {
    const r = parseReachability(key, raw);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it('accepts a tombstone under a well-formed key (nothing known: reachable)', () => {
    expect(parseReachability('eu-1/mimir', null)).toEqual({ ok: true, value: null });
  });
});
