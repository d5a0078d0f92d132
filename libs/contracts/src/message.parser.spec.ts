import fc from 'fast-check';
import { z } from 'zod';
import { CommandMessageSchema } from './command.schema';
import {
  ContractViolationError,
  encodeMessage,
  parseCompacted,
  parseMessage,
  validate,
} from './message.parser';
import { PodStateMessageSchema } from './cluster-state.schema';
import { RolloutRequestEventSchema } from './rollout-request.schema';
import { MAX_MESSAGE_BYTES } from './topics.constants';

const request = {
  v: 1,
  type: 'rollout.request',
  requestId: 'ci-4711',
  producer: 'ci',
  targets: [{ cluster: 'eu-1', namespace: 'mimir' }],
  change: { kind: 'restart' },
};
const json = (v: unknown) => JSON.stringify(v);

describe('parseMessage', () => {
  // [case, raw, expected reason (substring)]
  const refusals: [string, Buffer | string | null | undefined, string][] = [
    ['null value', null, 'empty payload (null value)'],
    ['undefined value', undefined, 'empty payload (null value)'],
    ['empty buffer', Buffer.alloc(0), 'empty payload'],
    ['empty string', '', 'empty payload'],
    ['whitespace', '  \n', 'empty payload (whitespace only)'],
    [
      'oversized',
      'x'.repeat(MAX_MESSAGE_BYTES + 1),
      `payload too large: ${MAX_MESSAGE_BYTES + 1} bytes (limit ${MAX_MESSAGE_BYTES})`,
    ],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'payload is not valid UTF-8'],
    ['invalid JSON', '{"v":1,', 'invalid JSON: '],
    ['JSON array', '[1,2]', '(root): expected a JSON object (the message envelope), got an array'],
    ['JSON null', 'null', 'got null'],
    ['JSON number', '42', 'got number'],
    ['no version', json({ type: 'rollout.request' }), 'v: Required (the message envelope version)'],
    [
      'version 2',
      json({ ...request, v: 2 }),
      'v: unsupported message version 2 (this reader understands v1)',
    ],
    ['version as string', json({ ...request, v: '1' }), 'v: unsupported message version "1"'],
    [
      'wrong type',
      json({ ...request, type: 'rollout.command' }),
      'type: Invalid literal value, expected "rollout.request"',
    ],
    [
      'missing cluster',
      json({ ...request, targets: [{ namespace: 'mimir' }] }),
      'targets.0.cluster: Required',
    ],
    [
      'empty targets',
      json({ ...request, targets: [] }),
      'targets: at least one target is required',
    ],
    [
      'bad change kind',
      json({ ...request, change: { kind: 'reboot' } }),
      'change.kind: Invalid discriminator value',
    ],
    [
      'unknown key (typo)',
      json({ ...request, dryrun: true }),
      "(root): Unrecognized key(s) in object: 'dryrun'",
    ],
  ];

  it.each(refusals)('refuses %s with a reason', (_case, raw, reason) => {
    const r = parseMessage(RolloutRequestEventSchema, raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(reason);
  });

  it('accepts a Buffer and a string alike and fills in defaults', () => {
    for (const raw of [json(request), Buffer.from(json(request))]) {
      const r = parseMessage(RolloutRequestEventSchema, raw);
      expect(r).toEqual({
        ok: true,
        value: expect.objectContaining({
          requestId: 'ci-4711',
          soakSeconds: 0,
          instanceTimeoutSeconds: 600,
          dryRun: false,
        }),
      });
    }
  });

  it('names at most five issues and counts the rest', () => {
    const r = parseMessage(PodStateMessageSchema, json({ v: 1, type: 'cluster.pod' }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason.split('; ')).toHaveLength(6);
      expect(r.reason).toMatch(/\(\+\d+ more\)$/);
    }
  });

  it('honours a smaller size limit', () => {
    expect(parseMessage(RolloutRequestEventSchema, json(request), { maxBytes: 10 })).toEqual({
      ok: false,
      reason: expect.stringContaining('payload too large'),
    });
  });

  describe('properties', () => {
    const schemas = [RolloutRequestEventSchema, CommandMessageSchema, PodStateMessageSchema];
    const raw = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.string({ maxLength: 200 }),
      fc.json().map((s) => s),
      fc
        .jsonValue()
        .map((v) =>
          JSON.stringify({ v: 1, ...(typeof v === 'object' && v !== null ? v : { x: v }) }),
        ),
      fc.constant(null),
    );

    it('never throws, and a refusal always carries a reason', () => {
      fc.assert(
        fc.property(fc.constantFrom(...schemas), raw, (schema, value) => {
          const r = parseMessage(schema as z.ZodTypeAny, value as Buffer | string | null);
          if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
        }),
        { numRuns: 500 },
      );
    });

    it('round-trips whatever encodeMessage wrote', () => {
      const arbRequest = fc.record({
        requestId: fc.string({ minLength: 1, maxLength: 20 }),
        producer: fc.string({ minLength: 1, maxLength: 20 }),
        soakSeconds: fc.integer({ min: 0, max: 3600 }),
        targets: fc.uniqueArray(
          fc.record({
            cluster: fc.stringMatching(/^[a-z][a-z0-9-]{0,9}$/),
            namespace: fc.stringMatching(/^[a-z][a-z0-9]{0,9}$/),
          }),
          { minLength: 1, maxLength: 4, selector: (t) => `${t.cluster}/${t.namespace}` },
        ),
      });
      fc.assert(
        fc.property(arbRequest, (fields) => {
          const written = encodeMessage(RolloutRequestEventSchema, {
            v: 1,
            type: 'rollout.request',
            change: { kind: 'restart' },
            ...fields,
          });
          const r = parseMessage(RolloutRequestEventSchema, Buffer.from(written));
          expect(r.ok).toBe(true);
          if (r.ok) expect(r.value).toMatchObject(fields);
        }),
        { numRuns: 100 },
      );
    });
  });
});

describe('parseCompacted', () => {
  it('reads a null value as a tombstone', () => {
    expect(parseCompacted(PodStateMessageSchema, null)).toEqual({ ok: true, value: null });
  });
  it('still refuses an empty, non-null value', () => {
    expect(parseCompacted(PodStateMessageSchema, Buffer.alloc(0))).toEqual({
      ok: false,
      reason: 'empty payload',
    });
  });
});

describe('validate and encodeMessage', () => {
  it('validate checks no envelope (REST bodies have none)', () => {
    expect(validate(z.object({ a: z.number() }), { a: 1 })).toEqual({ ok: true, value: { a: 1 } });
    expect(validate(z.object({ a: z.number() }), {})).toEqual({ ok: false, reason: 'a: Required' });
  });
  it('encodeMessage refuses what a reader would refuse', () => {
    expect(() =>
      encodeMessage(RolloutRequestEventSchema, { ...request, targets: [] } as never),
    ).toThrow(ContractViolationError);
    expect(() =>
      encodeMessage(RolloutRequestEventSchema, request as never, { maxBytes: 10 }),
    ).toThrow(/payload too large/);
  });
});
