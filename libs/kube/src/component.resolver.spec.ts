import { parseCount, resolveComponent, toEpochMs } from './component.resolver';

describe('resolveComponent', () => {
  it.each<
    [string, string, Record<string, string>, Record<string, string>, Record<string, string>, string]
  >([
    [
      'override map wins',
      'mimir-backend',
      { 'app.kubernetes.io/component': 'backend' },
      { 'ringmaster.dev/component': 'x' },
      { 'mimir-backend': 'store-gateway' },
      'store-gateway',
    ],
    [
      'override annotation',
      'w',
      { 'rollout-group': 'ingester' },
      { 'ringmaster.dev/component': 'ingester-special' },
      {},
      'ingester-special',
    ],
    [
      'rollout-group before component label',
      'mimir-ingester-zone-a',
      { 'rollout-group': 'ingester', 'app.kubernetes.io/component': 'ingester-zoned' },
      {},
      {},
      'ingester',
    ],
    [
      'chart component label',
      'mimir-querier',
      { 'app.kubernetes.io/component': 'querier', name: 'querier' },
      {},
      {},
      'querier',
    ],
    [
      'jsonnet name label',
      'ingester-zone-a',
      { name: 'ingester-zone-a' },
      {},
      {},
      'ingester-zone-a',
    ],
    ['nothing: the workload name', 'thing', {}, {}, {}, 'thing'],
    [
      'empty values are skipped',
      'w',
      { 'rollout-group': '', 'app.kubernetes.io/component': 'distributor' },
      {},
      {},
      'distributor',
    ],
  ])('%s', (_t, workload, labels, annotations, overrides, expected) => {
    expect(resolveComponent(workload, labels, annotations, overrides)).toBe(expected);
  });
});

describe('parseCount', () => {
  it.each<[string | undefined, number | undefined, number | undefined]>([
    ['3', undefined, 3],
    [' 12 ', undefined, 12],
    ['25%', 10, 2],
    ['5%', 10, 1],
    ['100%', 7, 7],
    ['25%', undefined, undefined],
    ['0', undefined, undefined],
    ['0%', 10, undefined],
    ['-1', undefined, undefined],
    ['1.5', undefined, undefined],
    ['x', undefined, undefined],
    [undefined, undefined, undefined],
  ])('parseCount(%j, %j) = %j', (v, of, expected) => expect(parseCount(v, of)).toBe(expected));
});

describe('toEpochMs', () => {
  it('reads Dates, RFC 3339 strings and nothing', () => {
    expect(toEpochMs(new Date(5))).toBe(5);
    expect(toEpochMs('1970-01-01T00:00:01Z')).toBe(1000);
    expect(toEpochMs(undefined)).toBeUndefined();
    expect(toEpochMs('not a date')).toBeUndefined();
  });
});
