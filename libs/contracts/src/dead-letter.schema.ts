/**
 * `ringmaster.dead-letter`: a message a consumer gave up on for good, with why and where it came
 * from, so a person (or a replay tool) can act on it. The original value is kept as text: UTF-8
 * when it was UTF-8, else base64; at most DEAD_LETTER_PAYLOAD_LIMIT bytes of it.
 *
 * Example:
 *   { "v": 1, "type": "dead-letter", "sourceTopic": "rollout.requests", "partition": 2,
 *     "offset": "1841", "key": "ci-4711", "consumerGroup": "ringmaster-planner",
 *     "reason": "targets.0.cluster: Required", "payload": "{\"v\":1,...}", "payloadEncoding": "utf8",
 *     "payloadBytes": 214, "payloadTruncated": false, "at": 1735689600000 }
 */
import { REQUEST_AUTH_HEADER } from './topics.constants';
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { EpochMsSchema, NonEmptyString, envelope } from './common.schema';
import { DEAD_LETTER_PAYLOAD_LIMIT } from './topics.constants';

export const DEAD_LETTER_TYPE = 'dead-letter';
const MAX_REASON = 4096;

export const DeadLetterMessageSchema = z.object({
  ...envelope(DEAD_LETTER_TYPE),
  sourceTopic: NonEmptyString,
  partition: z.number().int().nonnegative(),
  /** Kafka offsets are 64-bit: kept as the decimal string kafkajs gives. */
  offset: z.string().regex(/^\d+$/, 'must be a decimal offset'),
  key: z.string().nullable().optional(),
  consumerGroup: z.string().optional(),
  reason: NonEmptyString.max(MAX_REASON),
  /** null when the original value was null. */
  payload: z.string().nullable(),
  payloadEncoding: z.enum(['utf8', 'base64']),
  /** Size of the original value in bytes (before truncation). */
  payloadBytes: z.number().int().nonnegative(),
  payloadTruncated: z.boolean(),
  headers: z.record(z.string()).optional(),
  at: EpochMsSchema,
});
export type DeadLetterMessage = z.output<typeof DeadLetterMessageSchema>;

export interface DeadLetterInput {
  sourceTopic: string;
  partition: number;
  offset: string;
  key?: string | null;
  consumerGroup?: string;
  reason: string;
  value: Buffer | string | null;
  headers?: Record<string, string>;
  at: number;
  /** Bytes of the original value kept (default DEAD_LETTER_PAYLOAD_LIMIT). */
  payloadLimit?: number;
}

/** Builds the dead-letter value: the payload truncated, the reason capped, nothing thrown. */
export function toDeadLetterMessage(input: DeadLetterInput): DeadLetterMessage {
  const limit = input.payloadLimit ?? DEAD_LETTER_PAYLOAD_LIMIT;
  const bytes =
    input.value === null
      ? null
      : typeof input.value === 'string'
        ? Buffer.from(input.value, 'utf8')
        : input.value;
  const utf8 = bytes === null || isUtf8(bytes);
  let payload: string | null = null;
  let truncated = false;
  if (bytes !== null) {
    truncated = bytes.length > limit;
    const cut = truncated ? (utf8 ? utf8Boundary(bytes, limit) : limit) : bytes.length;
    payload = bytes.subarray(0, cut).toString(utf8 ? 'utf8' : 'base64');
  }
  const reason = input.reason.length > 0 ? input.reason.slice(0, MAX_REASON) : 'unknown reason';
  const m: DeadLetterMessage = {
    v: 1,
    type: DEAD_LETTER_TYPE,
    sourceTopic: input.sourceTopic,
    partition: input.partition,
    offset: input.offset,
    reason,
    payload,
    payloadEncoding: utf8 ? 'utf8' : 'base64',
    payloadBytes: bytes === null ? 0 : bytes.length,
    payloadTruncated: truncated,
    at: input.at,
  };
  if (input.key !== undefined) m.key = input.key;
  if (input.consumerGroup !== undefined) m.consumerGroup = input.consumerGroup;
  if (input.headers !== undefined && Object.keys(input.headers).length > 0)
    m.headers = redactHeaders(input.headers);
  return m;
}

/**
 * Credentials never reach the dead-letter topic (which people and tools read): the value of a
 * credential header becomes `<redacted>`, its presence stays visible.
 *
 *   redactHeaders({ authorization: 'Bearer rm_x', 'x-trace': '1' })
 *     -> { authorization: '<redacted>', 'x-trace': '1' }
 */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    out[k] = CREDENTIAL_HEADERS.has(k.toLowerCase()) ? '<redacted>' : v;
  return out;
}

const CREDENTIAL_HEADERS = new Set([REQUEST_AUTH_HEADER, 'cookie', 'proxy-authorization']);

/** Largest cut <= limit that does not split a UTF-8 sequence (continuation bytes are 10xxxxxx). */
function utf8Boundary(bytes: Buffer, limit: number): number {
  let cut = limit;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  return cut;
}
