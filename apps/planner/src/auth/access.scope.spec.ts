import { allows, denied, parseScope } from './access.scope';

describe('access scopes (the doc comment examples)', () => {
  it.each([
    [['roll:prod-*/mimir'], 'roll', 'prod-eu', 'mimir', true],
    [['roll:prod-*/mimir'], 'read', 'prod-eu', 'mimir', true],
    [['read:*/*'], 'roll', 'dev', 'mimir', false],
    [['read:*/*'], 'read', 'dev', 'mimir', true],
    [['roll:dev/mimir-*'], 'roll', 'dev', 'loki', false],
    [['roll:dev/mimir-*'], 'roll', 'dev', 'mimir-2', true],
    [
      ['roll:arn:aws:eks:eu-west-1:1:cluster/a/mimir'],
      'roll',
      'arn:aws:eks:eu-west-1:1:cluster/a',
      'mimir',
      true,
    ],
    [['roll:dev/mimir'], 'roll', 'dev2', 'mimir', false],
    [['roll:d.v/mimir'], 'roll', 'dxv', 'mimir', false],
    [[], 'read', 'dev', 'mimir', false],
  ] as const)('%j %s %s/%s -> %s', (scopes, verb, cluster, namespace, expected) => {
    expect(allows(scopes, verb, { cluster, namespace })).toBe(expected);
  });

  it.each([
    ['write:x/y', 'verb must be read or roll, got "write"'],
    ['roll', '"roll" is not <read|roll>:<cluster>/<namespace>'],
    ['roll:x', '"roll:x" is not <read|roll>:<cluster>/<namespace>'],
    ['roll:/y', '"roll:/y": cluster and namespace must not be empty (use *)'],
  ])('parseScope(%j) names the problem', (text, reason) => {
    expect(parseScope(text)).toEqual({ ok: false, reason });
  });

  it('denied() lists exactly the targets not allowed', () => {
    expect(
      denied(['roll:a/*', 'read:b/*'], 'roll', [
        { cluster: 'a', namespace: 'm' },
        { cluster: 'b', namespace: 'm' },
        { cluster: 'c', namespace: 'm' },
      ]),
    ).toEqual(['b/m', 'c/m']);
  });
});
