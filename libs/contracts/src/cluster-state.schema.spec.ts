import {
  PodStateMessageSchema,
  WorkloadStateMessageSchema,
  parseClusterState,
  toPodStateMessage,
  toWorkloadStateMessage,
} from './cluster-state.schema';
import { ComponentNameSchema, OBJECT_PROTOTYPE_NAMES } from './common.schema';
import { parseMessage } from './message.parser';
import { RolloutRequestEventSchema } from './rollout-request.schema';

const target = { cluster: 'eu-1', namespace: 'mimir' };
const meta = { resourceVersion: '42', observedAt: 1_735_689_600_000 };
const pod = toPodStateMessage(
  target,
  {
    name: 'mimir-ingester-zone-a-0',
    uid: 'u-1',
    workload: 'mimir-ingester-zone-a',
    component: 'ingester',
    zone: 'zone-a',
    revision: 'r1',
    ready: true,
  },
  meta,
);
const workload = toWorkloadStateMessage(
  target,
  {
    name: 'mimir-compactor',
    kind: 'StatefulSet',
    component: 'compactor',
    updateStrategy: 'OnDelete',
    replicas: 1,
    generation: 1,
    observedGeneration: 1,
    updateRevision: 'r1',
    statusReplicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
    updatedReplicas: 1,
  },
  meta,
);
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseClusterState: the key of an observation is its cluster/namespace/name', () => {
  it('accepts a value under its own key, and a tombstone under a well-formed key', () => {
    const r = parseClusterState(
      PodStateMessageSchema,
      'eu-1/mimir/mimir-ingester-zone-a-0',
      json(pod),
    );
    expect(r).toEqual({ ok: true, value: pod });
    expect(
      parseClusterState(WorkloadStateMessageSchema, 'eu-1/mimir/mimir-compactor', json(workload))
        .ok,
    ).toBe(true);
    expect(parseClusterState(PodStateMessageSchema, 'eu-1/mimir/gone-0', null)).toEqual({
      ok: true,
      value: null,
    });
  });

  // Found by the topic fuzz: such values were applied under the value's name while the
  // planner's view and compaction went by the key.
  it.each([
    ['another pod', 'eu-1/mimir/mimir-ingester-zone-b-0'],
    ['another namespace', 'eu-1/other/mimir-ingester-zone-a-0'],
    ['not a key at all', 'garbage'],
    ['one part too many', 'eu-1/mimir/mimir-ingester-zone-a-0/x'],
    ['upper case', 'EU-1/mimir/mimir-ingester-zone-a-0'],
  ])('refuses a value under %s, naming the key and the expected one', (_, key) => {
    const r = parseClusterState(PodStateMessageSchema, key, json(pod));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toContain(`key: ${JSON.stringify(key)}`);
    expect(r.reason).toContain('"eu-1/mimir/mimir-ingester-zone-a-0"');
  });

  it('refuses a missing key, and a tombstone whose key is not cluster/namespace/name', () => {
    expect(parseClusterState(PodStateMessageSchema, null, json(pod))).toEqual({
      ok: false,
      reason: 'key: missing (must be "cluster/namespace/name")',
    });
    expect(parseClusterState(PodStateMessageSchema, '', null).ok).toBe(false);
    const r = parseClusterState(WorkloadStateMessageSchema, 'a//b', null);
    expect(r).toEqual({
      ok: false,
      reason: 'key: "a//b" of a tombstone is not "cluster/namespace/name"',
    });
  });

  it('an invalid value is refused for its value first (the key cannot be judged)', () => {
    const r = parseClusterState(PodStateMessageSchema, 'x', '{"v":1}');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^type: /);
  });

  it('shortens a huge key in the reason', () => {
    const r = parseClusterState(PodStateMessageSchema, 'k'.repeat(100_000), json(pod));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.length).toBeLessThan(500);
  });
});

describe('component names are never names of Object.prototype members', () => {
  // Found by the topic fuzz: a pod observation of component "__proto__" made the planner's
  // view write the pod into Object.prototype (`pods[component] ??= {}` found the prototype).
  it.each([...OBJECT_PROTOTYPE_NAMES])('%s is refused, naming the field', (name) => {
    const r = parseClusterState(
      PodStateMessageSchema,
      'eu-1/mimir/mimir-ingester-zone-a-0',
      json({ ...pod, component: name }),
    );
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.reason).toMatch(/^component: must not be the name of an Object.prototype member/);
    const w = parseMessage(WorkloadStateMessageSchema, json({ ...workload, component: name }));
    expect(w.ok).toBe(false);
  });

  it('covers __proto__, constructor and toString, and leaves real names alone', () => {
    for (const n of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      expect(OBJECT_PROTOTYPE_NAMES.has(n)).toBe(true);
    for (const n of ['ingester', 'store-gateway', 'all', 'proto', 'Constructor'])
      expect(ComponentNameSchema.safeParse(n).success).toBe(true);
  });

  it('also in requests: components and override keys', () => {
    const req = {
      v: 1,
      type: 'rollout.request',
      requestId: 'r',
      producer: 'p',
      targets: [target],
      change: { kind: 'restart' },
    };
    const a = parseMessage(
      RolloutRequestEventSchema,
      JSON.stringify({ ...req, components: ['constructor'] }),
    );
    expect(a.ok).toBe(false);
    if (!a.ok) expect(a.reason).toMatch(/^components\.0: /);
    const b = parseMessage(
      RolloutRequestEventSchema,
      `{${JSON.stringify(req).slice(1, -1)},"overrides":{"__proto__":{"maxUnavailable":1}}}`,
    );
    expect(b.ok).toBe(false);
    if (!b.ok) expect(b.reason).toMatch(/^overrides\.__proto__: /);
  });
});
