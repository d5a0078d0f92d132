/**
 * Hostile payloads for every topic Ringmaster consumes, as fast-check arbitraries. The unit
 * properties (hostile-payload.property.spec.ts) feed them to the very checks the consumers make;
 * the e2e topic fuzz (test/e2e/topic-fuzz.e2e-spec.ts) produces a seeded sample of them to the
 * running services and expects every one in the dead-letter topic.
 *
 *   validMessage(topic)   a message the topic's producer could write, with its key: accepted.
 *   hostilePayload(topic) certainly wrong, with the pattern its refusal's reason must match
 *                         (the reason names what is wrong): bytes that are not UTF-8, malformed
 *                         JSON, a root that is not an object, empty values, values over
 *                         MAX_MESSAGE_BYTES, an unknown version or type, another topic's message,
 *                         and one change to a valid message: a required field dropped, a field of
 *                         the wrong JSON type, out of range, deeply nested or a huge array, an
 *                         unknown key in a strict object, an Object.prototype name as a component,
 *                         a key that is not the value's (compacted topics).
 *   mutatedPayload(topic) a valid message with one random change that may or may not leave it
 *                         valid (a field dropped or replaced by any JSON, extra keys, huge strings,
 *                         edge numbers): accepted or refused with a reason, never a crash.
 *
 * What a field must be comes from the zod schemas themselves (required or not, strict objects,
 * string limits, integers, enums), so a field added to a contract is fuzzed without a change here.
 */
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import {
  POD_STATE_TYPE,
  PodStateMessageSchema,
  WORKLOAD_STATE_TYPE,
  WorkloadStateMessageSchema,
  clusterStateKey,
  parseClusterState,
} from '../cluster-state.schema';
import { COMMAND_RESULT_TYPE, CommandResultMessageSchema } from '../command-result.schema';
import { COMMAND_TYPE, CommandMessageSchema } from '../command.schema';
import { ComponentNameSchema, OBJECT_PROTOTYPE_NAMES } from '../common.schema';
import { parseMessage, type ParseResult } from '../message.parser';
import {
  REACHABILITY_TYPE,
  TargetReachabilityMessageSchema,
  parseReachability,
  reachabilityKey,
} from '../reachability.schema';
import { ROLLOUT_REQUEST_TYPE, RolloutRequestEventSchema } from '../rollout-request.schema';
import { MAX_MESSAGE_BYTES } from '../topics.constants';

/** The consumed topics (ids of TOPICS): who reads them is in the file comment of topics.constants. */
export type ConsumedTopic =
  'requests' | 'commandResults' | 'pods' | 'workloads' | 'commands' | 'reachability';
export const CONSUMED_TOPICS: readonly ConsumedTopic[] = [
  'requests',
  'commandResults',
  'pods',
  'workloads',
  'commands',
  'reachability',
];

type Message = Record<string, unknown>;

export interface KeyedMessage {
  key: string;
  message: Message;
}

/** The ways a payload is made hostile (see hostilePayload). */
export const HOSTILE_KINDS = [
  'not-utf8',
  'malformed-json',
  'not-an-object',
  'deep-root',
  'empty',
  'oversized',
  'unknown-version',
  'unknown-type',
  'other-topic',
  'missing-field',
  'wrong-type',
  'deep-or-wide',
  'out-of-range',
  'unknown-key',
  'prototype-name',
  'key-mismatch',
] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

export interface MutatedPayload {
  topic: ConsumedTopic;
  /** What was done to it, for failure messages (`drop required field target.cluster`). */
  label: string;
  key: string | null;
  /** null: a Kafka null value (never for the compacted topics, where it is a tombstone). */
  value: Buffer | null;
}

export interface HostilePayload extends MutatedPayload {
  kind: HostileKind;
  /** The refusal's reason must match this: it names what is wrong. */
  reason: RegExp;
}

type Unkinded = Omit<HostilePayload, 'kind'>;
type Choices = Partial<Record<HostileKind, fc.Arbitrary<Unkinded>>>;

interface Contract {
  schema: z.ZodTypeAny;
  /** cluster.pods / workloads / reachability: a null value is a tombstone, keys non-null. */
  compacted: boolean;
  type: string;
  keyOf: (m: Message) => string;
  valid: () => fc.Arbitrary<Message>;
  /** The check the topic's consumer makes, nothing else. */
  parse: (key: string | null, value: Buffer | null) => ParseResult<unknown>;
}

// ------------------------------------------------------------------ valid messages

const label63 = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const objectName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,40}[a-z0-9])?$/);
const clusterName = fc.oneof(
  fc.stringMatching(/^[a-z0-9][-a-z0-9._]{0,30}$/),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => /^[^/\s]+$/.test(s)),
);
const text = (max = 40) =>
  fc.oneof(
    fc.string({ minLength: 1, maxLength: Math.min(max, 40) }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: Math.min(max, 12) }),
  );
const component = fc
  .oneof(
    fc.constantFrom(
      'ingester',
      'store-gateway',
      'querier',
      'query-frontend',
      'distributor',
      'compactor',
      'alertmanager',
      'ruler',
      'all',
    ),
    fc.stringMatching(/^[a-z][-a-z0-9]{0,20}$/),
  )
  .filter((c) => !OBJECT_PROTOTYPE_NAMES.has(c));
const epochMs = fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.maxSafeNat());
const count = fc.nat({ max: 1000 });
const resourceVersion = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String),
  fc.string({ maxLength: 20 }),
);
const targetRef = fc.record({ cluster: clusterName, namespace: label63 });
const change = fc.oneof(
  fc.constant({ kind: 'restart' }),
  fc.record(
    { kind: fc.constant('image'), image: text(1024), container: objectName },
    { requiredKeys: ['kind', 'image'] },
  ),
  fc
    .record(
      {
        kind: fc.constant('template'),
        annotations: fc.dictionary(
          fc.stringMatching(/^[a-z][-a-z0-9./]{0,20}$/),
          fc.string({ maxLength: 20 }),
          { maxKeys: 3 },
        ),
        env: fc.dictionary(
          fc.stringMatching(/^[A-Z][A-Z0-9_]{0,15}$/),
          fc.string({ maxLength: 20 }),
          {
            maxKeys: 3,
          },
        ),
      },
      { requiredKeys: ['kind'] },
    )
    .filter((c) => Object.keys(c.annotations ?? {}).length + Object.keys(c.env ?? {}).length > 0),
);

function requestEvent(): fc.Arbitrary<Message> {
  const targets = fc.uniqueArray(targetRef, {
    minLength: 1,
    maxLength: 4,
    selector: (t) => `${t.cluster}/${t.namespace}`,
  });
  return targets.chain((ts) =>
    fc.record(
      {
        v: fc.constant(1),
        type: fc.constant(ROLLOUT_REQUEST_TYPE),
        requestId: text(200),
        producer: text(200),
        targets: fc.constant(ts),
        change,
        components: fc.array(component, { maxLength: 3 }),
        overrides: fc.dictionary(
          component,
          fc.record(
            {
              maxUnavailable: fc.integer({ min: 1, max: 10 }),
              maxUnavailableZones: fc.integer({ min: 1, max: 3 }),
              probeReady: fc.boolean(),
              unsafe: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
          { maxKeys: 2 },
        ),
        soakSeconds: fc.integer({ min: 0, max: 86_400 }),
        instanceTimeoutSeconds: fc.integer({ min: 1, max: 86_400 }),
        restartMethod: fc.constantFrom('evict', 'delete'),
        maxParallelTargets: fc.integer({ min: 1, max: 1000 }),
        canary: fc.constantFrom(...ts.map((t) => `${t.cluster}/${t.namespace}`)),
        takeOver: fc.boolean(),
        dryRun: fc.boolean(),
      },
      { requiredKeys: ['v', 'type', 'requestId', 'producer', 'targets', 'change'] },
    ),
  );
}

function command(): fc.Arbitrary<Message> {
  const base = {
    v: fc.constant(1),
    type: fc.constant(COMMAND_TYPE),
    issuedAt: epochMs,
    id: text(300),
    rolloutId: text(200),
    target: targetRef,
  };
  return fc.oneof(
    fc.record({
      ...base,
      kind: fc.constant('apply-template'),
      workload: objectName,
      change,
      takeOver: fc.boolean(),
    }),
    fc.record({
      ...base,
      kind: fc.constant('roll-deployment'),
      workload: objectName,
      change,
      maxUnavailable: fc.integer({ min: 1, max: 100 }),
      minReadySeconds: fc.nat({ max: 3600 }),
    }),
    fc.record({
      ...base,
      kind: fc.constant('set-deployment-paused'),
      workload: objectName,
      paused: fc.boolean(),
    }),
    fc.record({
      ...base,
      kind: fc.constant('restart-pod'),
      pod: objectName,
      uid: text(),
      method: fc.constantFrom('evict', 'delete'),
    }),
  );
}

function commandResult(): fc.Arbitrary<Message> {
  return fc.record(
    {
      v: fc.constant(1),
      type: fc.constant(COMMAND_RESULT_TYPE),
      commandId: text(300),
      rolloutId: text(200),
      target: targetRef,
      outcome: fc.constantFrom('done', 'already-done', 'refused', 'failed'),
      detail: fc.string({ maxLength: 200 }),
      generation: count,
      executor: text(253),
      at: epochMs,
    },
    {
      requiredKeys: ['v', 'type', 'commandId', 'rolloutId', 'target', 'outcome', 'executor', 'at'],
    },
  );
}

const where = {
  v: fc.constant(1),
  cluster: clusterName,
  namespace: label63,
  resourceVersion,
  observedAt: epochMs,
};

function podState(): fc.Arbitrary<Message> {
  return fc.record(
    {
      ...where,
      type: fc.constant(POD_STATE_TYPE),
      name: objectName,
      uid: text(),
      workload: text(253),
      component,
      zone: fc.stringMatching(/^zone-[a-z]$/),
      revision: fc.string({ maxLength: 30 }),
      ready: fc.boolean(),
      readySince: epochMs,
      terminating: fc.boolean(),
      probe: fc.constantFrom('ok', 'failing', 'unknown'),
    },
    {
      requiredKeys: [
        ...(Object.keys(where) as (keyof typeof where)[]),
        'type',
        'name',
        'uid',
        'workload',
        'component',
        'revision',
        'ready',
      ],
    },
  );
}

function workloadState(): fc.Arbitrary<Message> {
  return fc.record(
    {
      ...where,
      type: fc.constant(WORKLOAD_STATE_TYPE),
      name: objectName,
      kind: fc.constantFrom('StatefulSet', 'Deployment'),
      component,
      zone: fc.stringMatching(/^zone-[a-z]$/),
      updateStrategy: fc.constantFrom('OnDelete', 'RollingUpdate'),
      replicas: count,
      generation: count,
      observedGeneration: count,
      updateRevision: fc.string({ maxLength: 30 }),
      statusReplicas: count,
      readyReplicas: count,
      availableReplicas: count,
      updatedReplicas: count,
      replicationFactor: fc.integer({ min: 1, max: 5 }),
      maxUnavailablePerZone: fc.integer({ min: 1, max: 10 }),
      paused: fc.boolean(),
    },
    {
      requiredKeys: [
        ...(Object.keys(where) as (keyof typeof where)[]),
        'type',
        'name',
        'kind',
        'component',
        'updateStrategy',
        'replicas',
        'generation',
        'observedGeneration',
        'updateRevision',
        'statusReplicas',
        'readyReplicas',
        'availableReplicas',
        'updatedReplicas',
      ],
    },
  );
}

function reachability(): fc.Arbitrary<Message> {
  return fc.record(
    {
      v: fc.constant(1),
      type: fc.constant(REACHABILITY_TYPE),
      cluster: clusterName,
      namespace: label63,
      reachable: fc.boolean(),
      since: epochMs,
      reason: fc.string({ maxLength: 200 }),
      observedAt: epochMs,
    },
    {
      requiredKeys: ['v', 'type', 'cluster', 'namespace', 'reachable', 'since', 'observedAt'],
    },
  );
}

const stateKey = (m: Message) =>
  clusterStateKey(m as { cluster: string; namespace: string; name: string });

export const CONTRACTS: Readonly<Record<ConsumedTopic, Contract>> = {
  requests: {
    schema: RolloutRequestEventSchema,
    compacted: false,
    type: ROLLOUT_REQUEST_TYPE,
    keyOf: (m) => String(m.requestId),
    valid: requestEvent,
    parse: (_key, value) => parseMessage(RolloutRequestEventSchema, value),
  },
  commandResults: {
    schema: CommandResultMessageSchema,
    compacted: false,
    type: COMMAND_RESULT_TYPE,
    keyOf: (m) => String(m.rolloutId),
    valid: commandResult,
    parse: (_key, value) => parseMessage(CommandResultMessageSchema, value),
  },
  pods: {
    schema: PodStateMessageSchema,
    compacted: true,
    type: POD_STATE_TYPE,
    keyOf: stateKey,
    valid: podState,
    parse: (key, value) => parseClusterState(PodStateMessageSchema, key, value),
  },
  workloads: {
    schema: WorkloadStateMessageSchema,
    compacted: true,
    type: WORKLOAD_STATE_TYPE,
    keyOf: stateKey,
    valid: workloadState,
    parse: (key, value) => parseClusterState(WorkloadStateMessageSchema, key, value),
  },
  commands: {
    schema: CommandMessageSchema,
    compacted: false,
    type: COMMAND_TYPE,
    keyOf: (m) => String((m.target as { cluster: string }).cluster),
    valid: command,
    parse: (_key, value) => parseMessage(CommandMessageSchema, value),
  },
  reachability: {
    schema: TargetReachabilityMessageSchema,
    compacted: true,
    type: REACHABILITY_TYPE,
    keyOf: (m) => reachabilityKey(m as { cluster: string; namespace: string }),
    valid: reachability,
    parse: (key, value) => parseReachability(key, value),
  },
};

/** What the consumer of `topic` makes of a record: the parsed value or the reason it refuses. */
export function consumerCheck(
  topic: ConsumedTopic,
  key: string | null,
  value: Buffer | null,
): ParseResult<unknown> {
  return CONTRACTS[topic].parse(key, value);
}

export function validMessage(topic: ConsumedTopic): fc.Arbitrary<KeyedMessage> {
  const c = CONTRACTS[topic];
  return c.valid().map((message) => ({ key: c.keyOf(message), message }));
}

// ------------------------------------------------------------------ what the schema says

type Path = readonly (string | number)[];

interface FieldSite {
  path: Path;
  value: unknown;
  schema: z.ZodTypeAny;
  /** Dropping it is a refusal (a required object field; not an array element or record entry). */
  required: boolean;
  element: boolean;
  /** Values a discriminator field may take (another one would pick another variant). */
  discriminates?: ReadonlySet<unknown>;
}

interface ObjectSite {
  path: Path;
  strict: boolean;
  known: ReadonlySet<string>;
  /** z.record: the schema its keys must satisfy. */
  keySchema?: z.ZodTypeAny;
  valueSchema?: z.ZodTypeAny;
}

function peel(s: z.ZodTypeAny): { schema: z.ZodTypeAny; nullable: boolean } {
  let nullable = false;
  for (;;) {
    if (s instanceof z.ZodEffects) s = s.innerType();
    else if (s instanceof z.ZodOptional) s = s.unwrap();
    else if (s instanceof z.ZodDefault) s = s.removeDefault();
    else if (s instanceof z.ZodNullable) {
      nullable = true;
      s = s.unwrap();
    } else return { schema: s, nullable };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function sitesOf(
  schema: z.ZodTypeAny,
  value: unknown,
): { fields: FieldSite[]; objects: ObjectSite[] } {
  const fields: FieldSite[] = [];
  const objects: ObjectSite[] = [];
  const walk = (s0: z.ZodTypeAny, v: unknown, path: Path): void => {
    let s = peel(s0).schema;
    let discriminator: { key: string; values: ReadonlySet<unknown> } | undefined;
    if (s instanceof z.ZodDiscriminatedUnion) {
      if (!isRecord(v)) return;
      const du = s as z.ZodDiscriminatedUnion<string, z.ZodObject<z.ZodRawShape>[]>;
      const option = du.optionsMap.get(v[du.discriminator] as never);
      if (!option) return;
      discriminator = { key: du.discriminator, values: new Set(du.optionsMap.keys()) };
      s = option;
    }
    if (s instanceof z.ZodObject && isRecord(v)) {
      const shape = s.shape as Record<string, z.ZodTypeAny>;
      objects.push({
        path,
        strict: s._def.unknownKeys === 'strict',
        known: new Set(Object.keys(shape)),
      });
      for (const [k, child] of Object.entries(v)) {
        const cs = shape[k];
        if (!cs) continue;
        fields.push({
          path: [...path, k],
          value: child,
          schema: cs,
          required: !cs.isOptional(),
          element: false,
          ...(discriminator?.key === k ? { discriminates: discriminator.values } : {}),
        });
        walk(cs, child, [...path, k]);
      }
    } else if (s instanceof z.ZodRecord && isRecord(v)) {
      objects.push({
        path,
        strict: false,
        known: new Set(),
        keySchema: s.keySchema,
        valueSchema: s.valueSchema,
      });
      for (const [k, child] of Object.entries(v)) {
        fields.push({
          path: [...path, k],
          value: child,
          schema: s.valueSchema,
          required: false,
          element: false,
        });
        walk(s.valueSchema, child, [...path, k]);
      }
    } else if (s instanceof z.ZodArray && Array.isArray(v)) {
      v.forEach((child, i) => {
        fields.push({
          path: [...path, i],
          value: child,
          schema: s.element,
          required: false,
          element: true,
        });
        walk(s.element, child, [...path, i]);
      });
    }
  };
  walk(schema, value, []);
  return { fields, objects };
}

type JsonType = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';
const JSON_TYPES: readonly JsonType[] = ['string', 'number', 'boolean', 'null', 'array', 'object'];

/** JSON types a schema accepts; undefined when this module can't tell (the field is skipped). */
function acceptedTypes(schema: z.ZodTypeAny): Set<JsonType> | undefined {
  const { schema: s, nullable } = peel(schema);
  let t: JsonType | undefined;
  if (s instanceof z.ZodString || s instanceof z.ZodEnum) t = 'string';
  else if (s instanceof z.ZodNumber) t = 'number';
  else if (s instanceof z.ZodBoolean) t = 'boolean';
  else if (s instanceof z.ZodLiteral)
    t = typeof s.value === 'string' ? 'string' : typeof s.value === 'number' ? 'number' : undefined;
  else if (
    s instanceof z.ZodObject ||
    s instanceof z.ZodRecord ||
    s instanceof z.ZodDiscriminatedUnion
  )
    t = 'object';
  else if (s instanceof z.ZodArray) t = 'array';
  if (!t) return undefined;
  return new Set<JsonType>(nullable ? [t, 'null'] : [t]);
}

function jsonOfType(t: JsonType): fc.Arbitrary<unknown> {
  switch (t) {
    case 'string':
      return fc.string({ maxLength: 20 });
    case 'number':
      return fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 });
    case 'object':
      return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), {
        maxKeys: 3,
      });
  }
}

// ------------------------------------------------------------------ building payloads

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pathText = (p: Path) => p.join('.');
/** A reason naming `path` (or something under it): `targets.0.cluster: Required`. */
const names = (p: Path) => new RegExp(`(^|; )${esc(pathText(p))}(\\.[^;]*)?: `);

const clone = (m: Message): Message => JSON.parse(JSON.stringify(m)) as Message;

/** Sets (or with `undefined`, deletes) the value at `path`; `__proto__` becomes an own key. */
function setAt(m: Message, path: Path, value: unknown): Message {
  const out = clone(m);
  let at: unknown = out;
  for (const k of path.slice(0, -1)) at = (at as Record<string | number, unknown>)[k];
  const last = path[path.length - 1];
  if (Array.isArray(at) && typeof last === 'number') {
    if (value === undefined) at.splice(last, 1);
    else at[last] = value;
  } else if (value === undefined) delete (at as Record<string, unknown>)[last];
  else
    Object.defineProperty(at, last, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/** Placeholders replaced in the JSON text (a depth-50 000 value can't go through JSON.stringify). */
class Raw {
  static seq = 0;
  readonly token = `\u0000raw${Raw.seq++}\u0000`;
  constructor(readonly text: string) {}
}

function serialize(m: Message, raws: Raw[] = []): Buffer {
  let json = JSON.stringify(m);
  for (const r of raws) json = json.replace(JSON.stringify(r.token), r.text);
  return Buffer.from(json, 'utf8');
}

const deepArrayText = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const wideArrayText = (n: number) => `[${'0,'.repeat(n - 1)}0]`;
const deepObjectText = (depth: number) => '{"a":'.repeat(depth) + '{}' + '}'.repeat(depth);

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Bytes that are never UTF-8 (a lone continuation byte, overlong, a surrogate, cut short...). */
const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

/** Payloads wrong as a whole, whatever the topic's schema. */
function wholePayload(topic: ConsumedTopic, base: KeyedMessage): Choices {
  const c = CONTRACTS[topic];
  const json = JSON.stringify(base.message);
  const mk = (
    label: string,
    value: Buffer | null,
    reason: RegExp,
    k: string | null = base.key,
  ) => ({
    topic,
    label,
    key: k,
    value,
    reason,
  });
  const notUtf8 = fc
    .record({
      at: fc.nat({ max: json.length }),
      bad: fc.constantFrom(...INVALID_UTF8),
      noise: fc.uint8Array({ maxLength: 64 }),
      raw: fc.boolean(),
    })
    .map(({ at, bad, noise, raw }) => {
      const body = raw ? Buffer.from(noise) : Buffer.from(json, 'utf8');
      const cut = Math.min(at, body.length);
      const v = Buffer.concat([body.subarray(0, cut), Buffer.from(bad), body.subarray(cut)]);
      return mk(
        raw ? 'random bytes, not UTF-8' : `not UTF-8 (bytes ${bad} at ${cut})`,
        v,
        /^payload is not valid UTF-8$/,
      );
    })
    .filter((p) => !isUtf8(p.value!));
  const malformed = fc
    .oneof(
      fc
        .integer({ min: 1, max: Math.max(1, json.length - 1) })
        .map((n) => ['cut short', json.slice(0, n)]),
      fc
        .constantFrom('x', ',', '}', ' {}', '\u0000', ']')
        .map((t) => ['trailing garbage', json + t]),
      fc.constant(['BOM first', `\ufeff${json}`]),
      fc.constant(['single quotes', json.replace(/"/g, "'")]),
      fc
        .constantFrom('NaN', 'Infinity', '-Infinity', 'undefined', '0x10', '01')
        .map((t) => [`${t} literal`, `${json.slice(0, -1)},"n":${t}}`]),
      fc.constant(['comment', `${json.slice(0, -1)} /* c */}`]),
    )
    .map(([label, t]) => ({ label, bytes: Buffer.from(t, 'utf8') }))
    .filter(({ bytes }) => {
      const t = bytes.toString('utf8');
      return t.trim().length > 0 && !parses(t);
    })
    .map(({ label, bytes }) => mk(`malformed JSON: ${label}`, bytes, /^invalid JSON: /));
  const notObject = fc
    .oneof(
      fc.constant(null),
      fc.integer(),
      fc.double(),
      fc.string({ maxLength: 30 }),
      fc.boolean(),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
      fc.constant([base.message]),
    )
    .map((v) => {
      const t = JSON.stringify(v);
      return mk(
        `root is ${t.slice(0, 20)}`,
        Buffer.from(t, 'utf8'),
        /^\(root\): expected a JSON object \(the message envelope\), got /,
      );
    });
  const deepRoot = fc
    .integer({ min: 100, max: 50_000 })
    .chain((d) =>
      fc.constantFrom(
        mk(
          `array nested ${d} deep`,
          Buffer.from(deepArrayText(d)),
          /^\(root\): expected a JSON object/,
        ),
        mk(`object nested ${d} deep`, Buffer.from(deepObjectText(d)), /^v: Required/),
      ),
    );
  const empty = fc.constantFrom(
    mk('empty value', Buffer.alloc(0), /^empty payload$/),
    mk('whitespace only', Buffer.from(' \n\t\r '), /^empty payload \(whitespace only\)$/),
    ...(c.compacted ? [] : [mk('null value', null, /^empty payload \(null value\)$/)]),
  );
  const oversized = fc.nat({ max: 8192 }).map((extra) => {
    const target = MAX_MESSAGE_BYTES + 1 + extra;
    const head = `${json.slice(0, -1)},"pad":"`;
    const pad = 'x'.repeat(target - Buffer.byteLength(head, 'utf8') - 2);
    return mk(
      `${target} bytes`,
      Buffer.from(`${head}${pad}"}`, 'utf8'),
      /^payload too large: \d+ bytes \(limit \d+\)$/,
    );
  });
  const version = fc
    .oneof(
      fc.integer().filter((n) => n !== 1),
      fc.double().filter((n) => n !== 1),
      fc.constantFrom<unknown>('1', 'v1', null, true, [1], { v: 1 }, 1e308),
      fc.constant(undefined),
    )
    .map((v) =>
      mk(
        v === undefined ? 'no version' : `version ${JSON.stringify(v)}`,
        serialize(setAt(base.message, ['v'], v)),
        /^v: /,
      ),
    );
  const type = fc
    .oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(
        ...CONSUMED_TOPICS.map((t) => CONTRACTS[t].type),
        'dead-letter',
        'rollout.status',
      ),
    )
    .filter((t) => t !== c.type)
    .map((t) =>
      mk(`type ${JSON.stringify(t)}`, serialize(setAt(base.message, ['type'], t)), /(^|; )type: /),
    );
  const otherTopic = fc
    .constantFrom(...CONSUMED_TOPICS.filter((t) => t !== topic))
    .chain((t) => CONTRACTS[t].valid().map((m) => ({ t, m })))
    .map(({ t, m }) => mk(`a ${t} message`, serialize(m), /(^|; )(type|kind): /));
  return {
    'not-utf8': notUtf8,
    'malformed-json': malformed,
    'not-an-object': notObject,
    'deep-root': deepRoot,
    empty,
    oversized,
    'unknown-version': version,
    'unknown-type': type,
    'other-topic': otherTopic,
  };
}

/** One change to one field of a valid message that makes it certainly invalid. */
function fieldPayload(topic: ConsumedTopic, base: KeyedMessage): Choices {
  const c = CONTRACTS[topic];
  const { fields, objects } = sitesOf(c.schema, base.message);
  const mk = (label: string, value: Buffer, reason: RegExp): Unkinded => ({
    topic,
    label,
    key: base.key,
    value,
    reason,
  });
  const choices: Choices = {};
  const add = (kind: HostileKind, a: fc.Arbitrary<Unkinded>) => {
    const had = choices[kind];
    choices[kind] = had ? fc.oneof(had, a) : a;
  };

  const required = fields.filter((f) => f.required);
  if (required.length)
    add(
      'missing-field',
      fc
        .constantFrom(...required)
        .map((f) =>
          mk(
            `drop required field ${pathText(f.path)}`,
            serialize(setAt(base.message, f.path, undefined)),
            names(f.path),
          ),
        ),
    );

  const typed = fields
    .map((f) => ({ f, ok: acceptedTypes(f.schema) }))
    .filter((x): x is { f: FieldSite; ok: Set<JsonType> } => x.ok !== undefined);
  if (typed.length) {
    add(
      'wrong-type',
      fc
        .constantFrom(...typed)
        .chain(({ f, ok }) =>
          fc
            .constantFrom(...JSON_TYPES.filter((t) => !ok.has(t)))
            .chain((t) => jsonOfType(t).map((v) => ({ f, t, v }))),
        )
        .map(({ f, t, v }) =>
          mk(
            `${pathText(f.path)} retyped to ${t}`,
            serialize(setAt(base.message, f.path, v)),
            names(f.path),
          ),
        ),
    );
    // Nested ever deeper, or a huge flat array: never what any field takes.
    add(
      'deep-or-wide',
      fc
        .record({
          f: fc.constantFrom(...typed.map((x) => x.f)),
          deep: fc.boolean(),
          n: fc.integer({ min: 100, max: 50_000 }),
        })
        .map(({ f, deep, n }) => {
          const raw = new Raw(deep ? deepArrayText(n) : wideArrayText(n));
          return mk(
            `${pathText(f.path)} replaced by ${deep ? `an array nested ${n} deep` : `an array of ${n} zeros`}`,
            serialize(setAt(base.message, f.path, raw.token), [raw]),
            names(f.path),
          );
        }),
    );
  }

  const outOfRange = fields.flatMap((f) => {
    const s = peel(f.schema).schema;
    const out: fc.Arbitrary<{ f: FieldSite; v: unknown; what: string }>[] = [];
    if (s instanceof z.ZodString) {
      const max = s.maxLength;
      if (max !== null && max < 600_000)
        out.push(
          fc
            .integer({ min: max + 1, max: max + 50_000 })
            .map((n) => ({ f, v: 'x'.repeat(n), what: `${n} characters` })),
        );
    } else if (s instanceof z.ZodNumber) {
      if (s.isInt)
        out.push(
          fc.integer({ min: 0, max: 1000 }).map((n) => ({ f, v: n + 0.5, what: `${n + 0.5}` })),
        );
      const min = s.minValue;
      if (min !== null && Number.isFinite(min))
        out.push(
          fc
            .integer({ min: 1, max: 1_000_000 })
            .map((d) => ({ f, v: min - d, what: `${min - d}` })),
        );
    } else if (s instanceof z.ZodEnum || s instanceof z.ZodLiteral) {
      const allowed = new Set<unknown>(s instanceof z.ZodEnum ? s.options : [s.value]);
      if (typeof [...allowed][0] === 'string')
        out.push(
          fc
            .string({ maxLength: 24 })
            .filter((v) => !allowed.has(v) && !f.discriminates?.has(v))
            .map((v) => ({ f, v, what: JSON.stringify(v) })),
        );
    }
    return out;
  });
  if (outOfRange.length)
    add(
      'out-of-range',
      fc
        .oneof(...outOfRange)
        .map(({ f, v, what }) =>
          mk(
            `${pathText(f.path)} out of range: ${what}`,
            serialize(setAt(base.message, f.path, v)),
            names(f.path),
          ),
        ),
    );

  const strict = objects.filter((o) => o.strict);
  if (strict.length)
    add(
      'unknown-key',
      fc
        .record({
          o: fc.constantFrom(...strict),
          k: fc.oneof(
            fc.string({ minLength: 1, maxLength: 16 }),
            fc.constantFrom('__proto__', 'constructor', 'dryrun', 'V', 'Type', 'kind '),
          ),
          v: fc.oneof(
            fc.jsonValue({ maxDepth: 3 }),
            fc
              .integer({ min: 1000, max: 400_000 })
              .map((n) => new Raw(JSON.stringify('y'.repeat(n)))),
            fc.integer({ min: 100, max: 20_000 }).map((n) => new Raw(deepObjectText(n))),
          ),
        })
        .filter(({ o, k }) => !o.known.has(k))
        .map(({ o, k, v }) => {
          const raws = v instanceof Raw ? [v] : [];
          const value = v instanceof Raw ? v.token : v;
          return mk(
            `unknown key ${JSON.stringify(k)} in ${pathText(o.path) || '(root)'}`,
            serialize(setAt(base.message, [...o.path, k], value), raws),
            new RegExp(
              `(^|; )${esc(pathText(o.path) || '(root)')}: Unrecognized key\\(s\\) in object: .*'${esc(k)}'`,
            ),
          );
        }),
    );

  // Object.prototype names where components go: values, and the keys of a record of components.
  const protoNames = [...OBJECT_PROTOTYPE_NAMES];
  const componentFields = fields.filter((f) => f.schema === ComponentNameSchema);
  const componentRecords = objects.filter((o) => o.keySchema === ComponentNameSchema);
  if (componentFields.length)
    add(
      'prototype-name',
      fc
        .record({ f: fc.constantFrom(...componentFields), n: fc.constantFrom(...protoNames) })
        .map(({ f, n }) =>
          mk(
            `${pathText(f.path)} is ${JSON.stringify(n)}`,
            serialize(setAt(base.message, f.path, n)),
            names(f.path),
          ),
        ),
    );
  if (componentRecords.length)
    add(
      'prototype-name',
      fc
        .record({ o: fc.constantFrom(...componentRecords), n: fc.constantFrom(...protoNames) })
        .map(({ o, n }) =>
          mk(
            `${pathText(o.path)} keyed ${JSON.stringify(n)}`,
            serialize(setAt(base.message, [...o.path, n], {})),
            names([...o.path, n]),
          ),
        ),
    );

  if (c.compacted)
    add(
      'key-mismatch',
      fc
        .oneof(
          fc.string({ maxLength: 40 }),
          fc.constant(''),
          fc.constant(`${base.key}/x`),
          fc.constant(base.key.toUpperCase()),
          fc.constant(` ${base.key}`),
          objectName.map((n) => base.key.replace(/[^/]*$/, n)),
          label63.map((ns) => base.key.replace(/\/[^/]*\//, `/${ns}/`)),
        )
        .filter((k) => k !== base.key)
        .map((k) => ({
          topic,
          label: `key ${JSON.stringify(k)} is not the value's`,
          key: k,
          value: serialize(base.message),
          reason: /^key: /,
        })),
    );

  return choices;
}

/**
 * A payload the consumer of `topic` must refuse, with the pattern of the reason (which names
 * what is wrong). Keys are the base message's own (never null on the compacted topics, whose
 * broker refuses null keys), except where the key is what is wrong.
 */
export function hostilePayload(
  topic: ConsumedTopic,
  kinds: readonly HostileKind[] = HOSTILE_KINDS,
): fc.Arbitrary<HostilePayload> {
  return validMessage(topic)
    .map((base) => choicesFor(topic, base, kinds))
    .filter((choices) => choices.length > 0)
    .chain((choices) => fc.oneof(...choices));
}

function choicesFor(
  topic: ConsumedTopic,
  base: KeyedMessage,
  kinds: readonly HostileKind[],
): fc.Arbitrary<HostilePayload>[] {
  const all: Choices = { ...wholePayload(topic, base), ...fieldPayload(topic, base) };
  return kinds.flatMap((kind) => {
    const a = all[kind];
    return a ? [a.map((p): HostilePayload => ({ ...p, kind }))] : [];
  });
}

/**
 * The kinds of hostile payload a topic can get (an unknown key needs a strict object, a key
 * mismatch a compacted topic...), from the valid messages of a fixed seed.
 */
export function hostileKinds(topic: ConsumedTopic): HostileKind[] {
  const seen = new Set<HostileKind>();
  for (const base of fc.sample(validMessage(topic), { numRuns: 100, seed: 1 })) {
    const all: Choices = { ...wholePayload(topic, base), ...fieldPayload(topic, base) };
    for (const k of Object.keys(all) as HostileKind[]) seen.add(k);
  }
  return HOSTILE_KINDS.filter((k) => seen.has(k));
}

/**
 * A valid message with one random change that may leave it valid or not: a field dropped or
 * replaced by any JSON value, an unknown key anywhere, a huge string, an edge number, an
 * Object.prototype name, a random key; or any hostile payload.
 */
export function mutatedPayload(topic: ConsumedTopic): fc.Arbitrary<MutatedPayload> {
  const c = CONTRACTS[topic];
  const changed = validMessage(topic).chain((base) => {
    const { fields, objects } = sitesOf(c.schema, base.message);
    const mk = (label: string, value: Buffer, key: string | null = base.key): MutatedPayload => ({
      topic,
      label,
      key,
      value,
    });
    const choices: fc.Arbitrary<MutatedPayload>[] = [
      fc
        .string({ maxLength: 30 })
        .map((k) => mk(`key ${JSON.stringify(k)}`, serialize(base.message), k)),
      fc
        .jsonValue({ maxDepth: 3 })
        .chain((v) =>
          fc
            .string({ maxLength: 10 })
            .map((k) =>
              mk(`extra root key ${JSON.stringify(k)}`, serialize(setAt(base.message, [k], v))),
            ),
        ),
    ];
    if (fields.length) {
      const field = fc.constantFrom(...fields);
      choices.push(
        field.map((f) =>
          mk(`drop ${pathText(f.path)}`, serialize(setAt(base.message, f.path, undefined))),
        ),
        field.chain((f) =>
          fc
            .oneof(
              fc.jsonValue({ maxDepth: 3 }),
              fc.constantFrom(...OBJECT_PROTOTYPE_NAMES),
              fc.constantFrom(
                0,
                -0,
                -1,
                2 ** 53,
                2 ** 53 + 2,
                1e308,
                1e-300,
                0.1,
                Number.MAX_SAFE_INTEGER,
              ),
              fc.integer({ min: 0, max: 600_000 }).map((n) => 'z'.repeat(n)),
              fc.string({ unit: 'binary', maxLength: 20 }),
            )
            .map((v) =>
              mk(
                `${pathText(f.path)} = ${JSON.stringify(v)?.slice(0, 40)}`,
                serialize(setAt(base.message, f.path, v)),
              ),
            ),
        ),
      );
    }
    if (objects.length)
      choices.push(
        fc
          .record({
            o: fc.constantFrom(...objects),
            k: fc.string({ maxLength: 12 }),
            v: fc.jsonValue({ maxDepth: 3 }),
          })
          .map(({ o, k, v }) =>
            mk(
              `key ${JSON.stringify(k)} in ${pathText(o.path) || '(root)'}`,
              serialize(setAt(base.message, [...o.path, k], v)),
            ),
          ),
      );
    return fc.oneof(...choices);
  });
  return fc.oneof(
    changed,
    hostilePayload(topic).map(({ reason: _r, kind: _k, ...p }) => p),
  );
}
