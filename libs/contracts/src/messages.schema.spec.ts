import type { Command, PodObs, RolloutState, WorkloadObs } from '@ringmaster/rollout-core';
import {
  PodStateMessageSchema,
  WorkloadStateMessageSchema,
  clusterStateKey,
  fromPodStateMessage,
  fromWorkloadStateMessage,
  toPodStateMessage,
  toWorkloadStateMessage,
} from './cluster-state.schema';
import {
  CommandMessageSchema,
  commandKey,
  fromCommandMessage,
  toCommandMessage,
} from './command.schema';
import {
  CommandResultMessageSchema,
  toCommandResultEvent,
  toCommandResultMessage,
} from './command-result.schema';
import { DeadLetterMessageSchema, redactHeaders, toDeadLetterMessage } from './dead-letter.schema';
import { encodeMessage, parseMessage } from './message.parser';
import {
  RolloutStatusMessageSchema,
  summarizeProgress,
  toRolloutStatusMessage,
} from './rollout-status.schema';
import { TOPICS, TOPIC_SPECS, parseClusterObjectKey, topicNames } from './topics.constants';

const target = { cluster: 'eu-1', namespace: 'mimir' };
const change = { kind: 'image' as const, image: 'grafana/mimir:2.16.0' };

describe('CommandMessage', () => {
  const commands: Command[] = [
    {
      kind: 'apply-template',
      id: 'r1:1',
      rolloutId: 'r1',
      target,
      workload: 'mimir-ingester-zone-a',
      change,
      takeOver: false,
    },
    {
      kind: 'roll-deployment',
      id: 'r1:2',
      rolloutId: 'r1',
      target,
      workload: 'mimir-querier',
      change: { kind: 'restart' },
      maxUnavailable: 3,
      minReadySeconds: 30,
    },
    {
      kind: 'set-deployment-paused',
      id: 'r1:3',
      rolloutId: 'r1',
      target,
      workload: 'mimir-querier',
      paused: true,
    },
    {
      kind: 'restart-pod',
      id: 'r1:4',
      rolloutId: 'r1',
      target,
      pod: 'mimir-ingester-zone-a-0',
      uid: 'u1',
      method: 'evict',
    },
  ];

  it.each(commands.map((c) => [c.kind, c] as const))(
    '%s round-trips through the wire',
    (_kind, command) => {
      const wire = encodeMessage(CommandMessageSchema, toCommandMessage(command, 1000));
      const r = parseMessage(CommandMessageSchema, Buffer.from(wire));
      if (!r.ok) throw new Error(r.reason);
      expect(r.value.issuedAt).toBe(1000);
      expect(fromCommandMessage(r.value)).toStrictEqual(command);
      expect(commandKey(command)).toBe('eu-1');
    },
  );

  // [case, message, reason]
  const refusals: [string, object, string][] = [
    [
      'unknown kind',
      { ...toCommandMessage(commands[3], 1), kind: 'scale' },
      'kind: Invalid discriminator value',
    ],
    [
      'unknown field',
      { ...toCommandMessage(commands[3], 1), grace: 0 },
      "Unrecognized key(s) in object: 'grace'",
    ],
    ['no uid', { ...toCommandMessage(commands[3], 1), uid: '' }, 'uid: must not be empty'],
    [
      'no issuedAt',
      { ...toCommandMessage(commands[0], 1), issuedAt: undefined },
      'issuedAt: Required',
    ],
  ];
  it.each(refusals)('refuses %s', (_case, message, reason) => {
    const r = parseMessage(CommandMessageSchema, JSON.stringify(message));
    expect(r).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });
});

describe('CommandResultMessage', () => {
  it('maps to the core event and ignores fields a newer executor adds', () => {
    const m = toCommandResultMessage({
      commandId: 'r1:4',
      rolloutId: 'r1',
      target,
      outcome: 'refused',
      detail: 'PDB',
      executor: 'executor-0',
      at: 5,
    });
    const r = parseMessage(CommandResultMessageSchema, JSON.stringify({ ...m, futureField: 1 }));
    if (!r.ok) throw new Error(r.reason);
    expect(r.value).toStrictEqual(m);
    expect(toCommandResultEvent(r.value)).toStrictEqual({
      kind: 'command-result',
      commandId: 'r1:4',
      outcome: 'refused',
      detail: 'PDB',
    });
  });
  it('refuses an unknown outcome', () => {
    const r = parseMessage(
      CommandResultMessageSchema,
      JSON.stringify({ v: 1, type: 'rollout.command-result', outcome: 'maybe' }),
    );
    expect(r).toEqual({
      ok: false,
      reason: expect.stringContaining(
        "outcome: Invalid enum value. Expected 'done' | 'already-done' | 'refused' | 'failed' | 'unreachable'",
      ),
    });
  });
});

describe('cluster state messages', () => {
  const pod: PodObs = {
    name: 'mimir-ingester-zone-a-0',
    uid: 'u1',
    workload: 'mimir-ingester-zone-a',
    component: 'ingester',
    zone: 'zone-a',
    revision: 'mimir-ingester-zone-a-5d9c7',
    ready: true,
    readySince: 1735689610000,
  };
  const workload: WorkloadObs = {
    name: 'mimir-ingester-zone-a',
    kind: 'StatefulSet',
    component: 'ingester',
    zone: 'zone-a',
    updateStrategy: 'OnDelete',
    replicas: 3,
    generation: 2,
    observedGeneration: 2,
    updateRevision: 'mimir-ingester-zone-a-5d9c7',
    statusReplicas: 3,
    readyReplicas: 3,
    availableReplicas: 3,
    updatedReplicas: 1,
  };
  const meta = { resourceVersion: '48213', observedAt: 1735689611000 };

  it('pod: round-trips and is keyed cluster/namespace/name', () => {
    const m = toPodStateMessage(target, pod, meta);
    const r = parseMessage(PodStateMessageSchema, encodeMessage(PodStateMessageSchema, m));
    if (!r.ok) throw new Error(r.reason);
    expect(fromPodStateMessage(r.value)).toStrictEqual({ target, pod, meta });
    expect(clusterStateKey(m)).toBe('eu-1/mimir/mimir-ingester-zone-a-0');
    expect(parseClusterObjectKey(clusterStateKey(m))).toEqual({ ...target, name: pod.name });
  });

  it('workload: round-trips', () => {
    const m = toWorkloadStateMessage(target, workload, meta);
    const r = parseMessage(
      WorkloadStateMessageSchema,
      encodeMessage(WorkloadStateMessageSchema, m),
    );
    if (!r.ok) throw new Error(r.reason);
    expect(fromWorkloadStateMessage(r.value)).toStrictEqual({ target, workload, meta });
  });

  it('refuses a negative replica count', () => {
    const m = { ...toWorkloadStateMessage(target, workload, meta), readyReplicas: -1 };
    expect(parseMessage(WorkloadStateMessageSchema, JSON.stringify(m))).toEqual({
      ok: false,
      reason: 'readyReplicas: Number must be greater than or equal to 0',
    });
  });

  it.each([['a/b'], ['a/b/c/d'], ['a//c']])('parseClusterObjectKey(%s) is undefined', (key) => {
    expect(parseClusterObjectKey(key)).toBeUndefined();
  });
});

describe('RolloutStatusMessage', () => {
  it('summarizes progress from the core state', () => {
    const component = (restarted: number, total: number) => ({
      status: 'running' as const,
      workloads: {},
      inFlight: {},
      restartedUids: {},
      restarted,
      total,
      maxUnavailableSeen: 0,
    });
    const state = {
      id: 'r1',
      status: 'blocked',
      reason: 'timeout',
      targets: {
        'eu-1/mimir': { status: 'succeeded', components: { ingester: component(3, 3) } },
        'us-1/mimir': {
          status: 'blocked',
          components: { ingester: component(1, 3), querier: component(0, 4) },
        },
        'ap-1/mimir': { status: 'pending', components: {} },
      },
    } as unknown as RolloutState;
    expect(summarizeProgress(state)).toEqual({
      targets: { total: 3, pending: 1, running: 0, succeeded: 1, blocked: 1, aborted: 0 },
      instances: { restarted: 4, total: 10 },
    });
    const m = toRolloutStatusMessage(state, 99, 'ci-4711');
    expect(
      parseMessage(RolloutStatusMessageSchema, encodeMessage(RolloutStatusMessageSchema, m)),
    ).toEqual({ ok: true, value: m });
  });
});

describe('DeadLetterMessage', () => {
  const base = {
    sourceTopic: 'rollout.requests',
    partition: 2,
    offset: '1841',
    key: 'k',
    reason: 'targets.0.cluster: Required',
    at: 1,
  };

  it('keeps a small UTF-8 payload as is', () => {
    const m = toDeadLetterMessage({ ...base, value: Buffer.from('{"v":1}') });
    expect(m).toMatchObject({
      payload: '{"v":1}',
      payloadEncoding: 'utf8',
      payloadBytes: 7,
      payloadTruncated: false,
    });
    expect(DeadLetterMessageSchema.parse(m)).toEqual(m);
  });

  it('never keeps a credential header (the doc example of redactHeaders)', () => {
    const m = toDeadLetterMessage({
      ...base,
      value: '{}',
      headers: { Authorization: 'Bearer rm_secret', 'x-trace': '1' },
    });
    expect(m.headers).toEqual({ Authorization: '<redacted>', 'x-trace': '1' });
    expect(JSON.stringify(m)).not.toContain('rm_secret');
    expect(redactHeaders({ authorization: 'Bearer rm_x', 'x-trace': '1' })).toEqual({
      authorization: '<redacted>',
      'x-trace': '1',
    });
  });

  it('truncates without splitting a UTF-8 character', () => {
    const value = 'é'.repeat(10); // 20 bytes, 2 per character
    const m = toDeadLetterMessage({ ...base, value, payloadLimit: 5 });
    expect(m).toMatchObject({ payload: 'éé', payloadBytes: 20, payloadTruncated: true });
  });

  it('keeps binary as base64, and a null value as null', () => {
    expect(toDeadLetterMessage({ ...base, value: Buffer.from([0xff, 0x00]) })).toMatchObject({
      payload: '/wA=',
      payloadEncoding: 'base64',
    });
    expect(toDeadLetterMessage({ ...base, value: null })).toMatchObject({
      payload: null,
      payloadBytes: 0,
    });
  });
});

describe('topics', () => {
  it('has a spec for every topic; the cluster.* topics are compacted', () => {
    expect(TOPIC_SPECS.map((s) => s.name).sort()).toEqual(Object.values(TOPICS).sort());
    const compacted = TOPIC_SPECS.filter((s) => s.configs['cleanup.policy'] === 'compact').map(
      (s) => s.name,
    );
    expect(compacted.sort()).toEqual(['cluster.pods', 'cluster.reachability', 'cluster.workloads']);
  });
  it('prefixes names', () => {
    expect(topicNames('t1.').commands).toBe('t1.rollout.commands');
    expect(topicNames()).toEqual(TOPICS);
  });
});
