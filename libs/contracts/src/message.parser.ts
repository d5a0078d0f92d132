/**
 * Reading and writing message values. Consumers call parseMessage on every value they receive:
 * it never throws, and when it refuses a value the reason says which field is wrong and how, so
 * the dead-letter record alone explains the refusal:
 *
 *   parseMessage(CommandMessageSchema, '{"v":1,"type":"rollout.command"}')
 *     -> { ok: false, reason: 'kind: Invalid discriminator value. Expected ...' }
 *   parseMessage(RolloutRequestEventSchema, '{"v":2}')
 *     -> { ok: false, reason: 'v: unsupported message version 2 (this reader understands v1)' }
 *   parseMessage(AnySchema, Buffer.alloc(0))   -> { ok: false, reason: 'empty payload' }
 */
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { MAX_MESSAGE_BYTES, MESSAGE_VERSION } from './topics.constants';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface ParseOptions {
  /** Largest accepted payload in bytes (default MAX_MESSAGE_BYTES). */
  maxBytes?: number;
}

/** At most this many issues are spelled out in a reason; the rest are counted. */
const MAX_ISSUES = 5;

/**
 * Zod issues -> one line: `targets.0.cluster: Required; change.kind: Invalid discriminator ...`.
 * The path is dotted (array indexes included); an issue about the whole value says `(root)`.
 */
export function formatIssues(issues: readonly z.ZodIssue[]): string {
  const parts = issues
    .slice(0, MAX_ISSUES)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  if (issues.length > MAX_ISSUES) parts.push(`(+${issues.length - MAX_ISSUES} more)`);
  return parts.join('; ');
}

/** Validates an already-decoded value (a REST body, say): no envelope check. Never throws. */
export function validate<S extends z.ZodTypeAny>(
  schema: S,
  value: unknown,
): ParseResult<z.output<S>> {
  try {
    const r = schema.safeParse(value);
    return r.success
      ? { ok: true, value: r.data }
      : { ok: false, reason: formatIssues(r.error.issues) };
  } catch (e) {
    return { ok: false, reason: `validation failed unexpectedly: ${errorText(e)}` };
  }
}

/**
 * A message value (Kafka gives a Buffer or null) -> the schema's output, or a reason. Checks in
 * order: present and non-empty, size limit, UTF-8, JSON, a JSON object, envelope version, schema.
 */
export function parseMessage<S extends z.ZodTypeAny>(
  schema: S,
  raw: Buffer | string | null | undefined,
  options: ParseOptions = {},
): ParseResult<z.output<S>> {
  try {
    const decoded = decode(raw, options.maxBytes ?? MAX_MESSAGE_BYTES);
    if (!decoded.ok) return decoded;
    const env = checkEnvelope(decoded.value);
    if (!env.ok) return env;
    return validate(schema, decoded.value);
  } catch (e) {
    return { ok: false, reason: `parse failed unexpectedly: ${errorText(e)}` };
  }
}

/**
 * For compacted topics (cluster.pods, cluster.workloads): a null value is a tombstone (the object
 * is gone) and yields `{ ok: true, value: null }`; anything else is parseMessage.
 */
export function parseCompacted<S extends z.ZodTypeAny>(
  schema: S,
  raw: Buffer | string | null | undefined,
  options: ParseOptions = {},
): ParseResult<z.output<S> | null> {
  if (raw === null || raw === undefined) return { ok: true, value: null };
  return parseMessage(schema, raw, options);
}

/** Thrown by encodeMessage: the producer is about to write something readers would refuse. */
export class ContractViolationError extends Error {
  /** Never worth retrying: the same value fails the same way. */
  readonly retriable = false;
  constructor(readonly reason: string) {
    super(`message violates its contract: ${reason}`);
    this.name = 'ContractViolationError';
  }
}

/**
 * Validates a value against its schema and serializes it (JSON). Producers call this so a bug
 * shows up where it is made, not as a dead letter in another service. Throws
 * ContractViolationError on an invalid or oversized value.
 */
export function encodeMessage<S extends z.ZodTypeAny>(
  schema: S,
  value: z.input<S>,
  options: ParseOptions = {},
): string {
  const r = validate(schema, value);
  if (!r.ok) throw new ContractViolationError(r.reason);
  const json = JSON.stringify(r.value);
  const limit = options.maxBytes ?? MAX_MESSAGE_BYTES;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > limit)
    throw new ContractViolationError(`payload too large: ${bytes} bytes (limit ${limit})`);
  return json;
}

function decode(raw: Buffer | string | null | undefined, maxBytes: number): ParseResult<unknown> {
  if (raw === null || raw === undefined) return { ok: false, reason: 'empty payload (null value)' };
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.length;
  if (bytes === 0) return { ok: false, reason: 'empty payload' };
  if (bytes > maxBytes)
    return { ok: false, reason: `payload too large: ${bytes} bytes (limit ${maxBytes})` };
  if (typeof raw !== 'string' && !isUtf8(raw))
    return { ok: false, reason: 'payload is not valid UTF-8' };
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  if (text.trim().length === 0) return { ok: false, reason: 'empty payload (whitespace only)' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${errorText(e)}` };
  }
}

function checkEnvelope(value: unknown): ParseResult<unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    return {
      ok: false,
      reason: `(root): expected a JSON object (the message envelope), got ${got}`,
    };
  }
  if (!('v' in value)) return { ok: false, reason: 'v: Required (the message envelope version)' };
  const v = (value as { v: unknown }).v;
  if (v !== MESSAGE_VERSION) {
    const shown = describeVersion(v);
    return {
      ok: false,
      reason: `v: unsupported message version ${shown} (this reader understands v${MESSAGE_VERSION})`,
    };
  }
  return { ok: true, value };
}

/**
 * The offending version, short. An array or object is only named: JSON.stringify of a value
 * nested 10 000 deep overflows the stack, and the reason would no longer say `v`.
 */
function describeVersion(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  return (JSON.stringify(v) ?? String(v)).slice(0, 40);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
