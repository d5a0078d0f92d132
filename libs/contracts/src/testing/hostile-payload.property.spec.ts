/**
 * Properties of what every consumer does first with a record (parseMessage, or parseClusterState
 * / parseReachability on the compacted topics): hostile payloads are refused with a reason
 * naming what is wrong, random changes to a valid message are accepted as valid or refused with
 * a reason, valid messages are accepted unchanged, and nothing throws. The e2e topic fuzz sends a sample of the
 * same payloads to the running services.
 *
 * RINGMASTER_PROPERTY_RUNS sets the runs per property (default 100); RINGMASTER_PROPERTY_SEED
 * pins the seed (CI does; developer runs explore new cases).
 */
import fc from 'fast-check';
import { encodeMessage, parseMessage, validate } from '../message.parser';
import { CommandResultMessageSchema } from '../command-result.schema';
import {
  CONSUMED_TOPICS,
  CONTRACTS,
  HOSTILE_KINDS,
  consumerCheck,
  hostileKinds,
  hostilePayload,
  mutatedPayload,
  validMessage,
  type HostilePayload,
  type MutatedPayload,
} from './hostile-payload.arbitrary';

const RUNS = Number(process.env.RINGMASTER_PROPERTY_RUNS ?? 100);
const SEED = process.env.RINGMASTER_PROPERTY_SEED
  ? Number(process.env.RINGMASTER_PROPERTY_SEED)
  : undefined;
const settings = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };

jest.setTimeout(120_000);

/** A payload as a failure report shows it: what was done, the key, the start of the value. */
function shown(p: MutatedPayload): string {
  const v =
    p.value === null
      ? 'null'
      : `${p.value.length} bytes: ${JSON.stringify(p.value.subarray(0, 160).toString('utf8'))}`;
  return `${p.topic} [${p.label}] key ${JSON.stringify(p.key?.slice(0, 80))} value ${v}`;
}

/** fast-check prints counterexamples with this (a 1 MiB value would flood the report). */
function printable<T extends MutatedPayload>(a: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return a.map((p) => Object.assign(p, { [fc.toStringMethod]: () => shown(p) }));
}

function check(p: MutatedPayload) {
  try {
    return consumerCheck(p.topic, p.key, p.value);
  } catch (e) {
    throw new Error(`the check threw on ${shown(p)}: ${String(e)}`);
  }
}

describe.each(CONSUMED_TOPICS)('topic %s: what its consumer accepts', (topic) => {
  const { schema } = CONTRACTS[topic];

  it('every valid message is accepted, unchanged (round trip through the wire format)', () => {
    fc.assert(
      fc.property(validMessage(topic), ({ key, message }) => {
        const wire = Buffer.from(encodeMessage(schema, message as never), 'utf8');
        const r = consumerCheck(topic, key, wire);
        if (!r.ok) throw new Error(`refused a valid message (${r.reason}): ${wire.toString()}`);
        expect(r.value).toEqual(validate(schema, message).ok && schema.parse(message));
      }),
      settings,
    );
  });

  const refusedNamingIt = (p: HostilePayload) => {
    const r = check(p);
    if (r.ok) throw new Error(`accepted ${shown(p)}`);
    if (!p.reason.test(r.reason))
      throw new Error(
        `reason ${JSON.stringify(r.reason.slice(0, 300))} does not match ${p.reason} for ${shown(p)}`,
      );
  };

  it('every hostile payload is refused with a reason naming what is wrong; nothing throws', () => {
    fc.assert(fc.property(printable(hostilePayload(topic)), refusedNamingIt), settings);
  });

  const kinds = hostileKinds(topic);
  it('can get every kind of hostile payload that applies to it', () => {
    const everywhere = HOSTILE_KINDS.filter(
      (k) => !['unknown-key', 'prototype-name', 'key-mismatch'].includes(k),
    );
    expect(kinds).toEqual(expect.arrayContaining(everywhere));
    expect(kinds.includes('key-mismatch')).toBe(CONTRACTS[topic].compacted);
  });

  it.each(kinds)('hostile kind %s: refused with a reason naming what is wrong', (kind) => {
    fc.assert(fc.property(printable(hostilePayload(topic, [kind])), refusedNamingIt), {
      ...settings,
      numRuns: Math.max(10, Math.ceil(RUNS / 4)),
    });
  });

  it('a randomly changed valid message is accepted as valid or refused with a reason', () => {
    fc.assert(
      fc.property(printable(mutatedPayload(topic)), (p) => {
        const r = check(p);
        if (r.ok) {
          // Accepted means valid: what the consumer goes on with passes the schema again.
          if (r.value !== null && !validate(schema, r.value).ok)
            throw new Error(`accepted an invalid value from ${shown(p)}`);
        } else if (typeof r.reason !== 'string' || r.reason.trim().length === 0) {
          throw new Error(`refused without a reason: ${shown(p)}`);
        }
      }),
      settings,
    );
  });

  it('arbitrary bytes and text never make it throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
          fc.string({ unit: 'binary', maxLength: 256 }).map((s) => Buffer.from(s, 'utf8')),
          fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? '', 'utf8')),
        ),
        fc.option(fc.string({ maxLength: 40 }), { nil: null }),
        (value, key) => {
          const r = check({ topic, label: 'arbitrary', key, value });
          expect(r.ok || r.reason.length > 0).toBe(true);
        },
      ),
      settings,
    );
  });
});

describe('found by these properties', () => {
  // A version nested 10 000 deep: JSON.stringify overflowed the stack while the reason was
  // built, and the reason said "parse failed unexpectedly" instead of naming `v`.
  it('a deeply nested version is refused naming v', () => {
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const r = parseMessage(
      CommandResultMessageSchema,
      `{"v":${deep},"type":"rollout.command-result"}`,
    );
    expect(r).toEqual({
      ok: false,
      reason: 'v: unsupported message version an array (this reader understands v1)',
    });
    const o = parseMessage(CommandResultMessageSchema, '{"v":{"a":1}}');
    expect(o.ok).toBe(false);
    if (!o.ok) expect(o.reason).toMatch(/^v: unsupported message version an object/);
  });
});
