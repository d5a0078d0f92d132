import type { RolloutSpec } from '@ringmaster/rollout-core';
import { validate } from './message.parser';
import {
  RolloutRequestSchema,
  toRolloutSpec,
  type RolloutRequestInput,
} from './rollout-request.schema';

const target = { cluster: 'eu-1', namespace: 'mimir' };
const minimal: RolloutRequestInput = { targets: [target], change: { kind: 'restart' } };

describe('RolloutRequestSchema', () => {
  // [case, body, reason] — the same examples as the doc comment and the REST docs.
  const refusals: [string, unknown, string][] = [
    ['no targets', { change: { kind: 'restart' } }, 'targets: Required'],
    [
      'empty targets',
      { targets: [], change: { kind: 'restart' } },
      'targets: at least one target is required',
    ],
    [
      'missing namespace',
      { targets: [{ cluster: 'eu-1' }], change: { kind: 'restart' } },
      'targets.0.namespace: Required',
    ],
    [
      'namespace not a label',
      { ...minimal, targets: [{ cluster: 'eu-1', namespace: 'Mimir_Prod' }] },
      'targets.0.namespace: must be an RFC 1123 label',
    ],
    [
      'slash in cluster',
      { ...minimal, targets: [{ cluster: 'eu/1', namespace: 'mimir' }] },
      'targets.0.cluster: must not contain "/"',
    ],
    [
      'duplicate target',
      { ...minimal, targets: [target, target] },
      'targets.1: duplicate target eu-1/mimir',
    ],
    ['no change', { targets: [target] }, 'change: Required'],
    ['image without image', { ...minimal, change: { kind: 'image' } }, 'change.image: Required'],
    [
      'empty template',
      { ...minimal, change: { kind: 'template' } },
      'change: a template change needs at least one annotation or env entry',
    ],
    [
      'unknown change field',
      { ...minimal, change: { kind: 'restart', force: true } },
      "change: Unrecognized key(s) in object: 'force'",
    ],
    [
      'negative soak',
      { ...minimal, soakSeconds: -1 },
      'soakSeconds: Number must be greater than or equal to 0',
    ],
    [
      'soak in ms by mistake',
      { ...minimal, soakSeconds: 300000 },
      'soakSeconds: Number must be less than or equal to 86400',
    ],
    [
      'fractional timeout',
      { ...minimal, instanceTimeoutSeconds: 1.5 },
      'instanceTimeoutSeconds: Expected integer',
    ],
    [
      'restart method',
      { ...minimal, restartMethod: 'kill' },
      "restartMethod: Invalid enum value. Expected 'evict' | 'delete'",
    ],
    [
      'zero parallel targets',
      { ...minimal, maxParallelTargets: 0 },
      'maxParallelTargets: Number must be greater than or equal to 1',
    ],
    [
      'canary not a target',
      { ...minimal, canary: 'us-1/mimir' },
      'canary: us-1/mimir is not one of the targets',
    ],
    [
      'override of 0',
      { ...minimal, overrides: { ingester: { maxUnavailable: 0 } } },
      'overrides.ingester.maxUnavailable: Number must be greater than or equal to 1',
    ],
    [
      'override typo',
      { ...minimal, overrides: { ingester: { maxUnavailble: 2 } } },
      "overrides.ingester: Unrecognized key(s) in object: 'maxUnavailble'",
    ],
    [
      'dryRun typo',
      { ...minimal, dryrun: true },
      "(root): Unrecognized key(s) in object: 'dryrun'",
    ],
  ];

  it.each(refusals)('refuses %s', (_case, body, reason) => {
    const r = validate(RolloutRequestSchema, body);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('fills in the defaults', () => {
    expect(validate(RolloutRequestSchema, minimal)).toEqual({
      ok: true,
      value: {
        targets: [target],
        change: { kind: 'restart' },
        soakSeconds: 0,
        instanceTimeoutSeconds: 600,
        restartMethod: 'evict',
        maxParallelTargets: 1,
        takeOver: false,
        dryRun: false,
      },
    });
  });
});

describe('toRolloutSpec', () => {
  // [case, request, spec]
  const cases: [string, RolloutRequestInput, RolloutSpec][] = [
    [
      'minimal restart',
      minimal,
      {
        targets: [target],
        change: { kind: 'restart' },
        soakSeconds: 0,
        instanceTimeoutSeconds: 600,
        restartMethod: 'evict',
        maxParallelTargets: 1,
        takeOver: false,
      },
    ],
    [
      'fleet image change with canary and overrides',
      {
        targets: [target, { cluster: 'us-1', namespace: 'mimir' }],
        change: { kind: 'image', image: 'grafana/mimir:2.16.0', container: 'ingester' },
        components: ['ingester', 'querier'],
        overrides: { ingester: { maxUnavailable: 2, unsafe: true } },
        soakSeconds: 30,
        restartMethod: 'delete',
        maxParallelTargets: 2,
        canary: 'us-1/mimir',
        takeOver: true,
        dryRun: true,
      },
      {
        targets: [target, { cluster: 'us-1', namespace: 'mimir' }],
        change: { kind: 'image', image: 'grafana/mimir:2.16.0', container: 'ingester' },
        components: ['ingester', 'querier'],
        overrides: { ingester: { maxUnavailable: 2, unsafe: true } },
        soakSeconds: 30,
        instanceTimeoutSeconds: 600,
        restartMethod: 'delete',
        maxParallelTargets: 2,
        canary: 'us-1/mimir',
        takeOver: true,
      },
    ],
    [
      'empty components and overrides are left out',
      { ...minimal, components: [], overrides: {} },
      {
        targets: [target],
        change: { kind: 'restart' },
        soakSeconds: 0,
        instanceTimeoutSeconds: 600,
        restartMethod: 'evict',
        maxParallelTargets: 1,
        takeOver: false,
      },
    ],
  ];

  it.each(cases)('%s', (_case, body, spec) => {
    const r = validate(RolloutRequestSchema, body);
    if (!r.ok) throw new Error(r.reason);
    expect(toRolloutSpec(r.value)).toStrictEqual(spec);
  });
});
