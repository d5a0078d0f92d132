import type { V1PodTemplateSpec } from '@kubernetes/client-node';
import type { Change } from '@ringmaster/rollout-core';
import {
  buildTemplatePatch,
  deploymentPatch,
  statefulSetPatch,
  templateHasChange,
} from './template-patch.builder';
import { deployment, sts, zonedSts } from './testing/chart-objects';

const tpl: V1PodTemplateSpec = {
  metadata: { labels: { name: 'ingester-zone-a' } },
  spec: {
    containers: [
      {
        name: 'ingester',
        image: 'grafana/mimir:2.14.0',
        env: [{ name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
      },
      { name: 'sidecar', image: 'busybox' },
    ],
  },
};

describe('buildTemplatePatch', () => {
  it.each<[string, Change, object]>([
    [
      'restart: the restarted-by annotation with the rollout id',
      { kind: 'restart' },
      { metadata: { annotations: { 'ringmaster.dev/restarted-by': 'r1' } } },
    ],
    [
      'image: every container running the same image by default (not the sidecar)',
      { kind: 'image', image: 'grafana/mimir:2.15.0' },
      { spec: { containers: [{ name: 'ingester', image: 'grafana/mimir:2.15.0' }] } },
    ],
    [
      'image: from another registry, still matched by image name',
      { kind: 'image', image: 'registry.example:5000/grafana/mimir:2.15.0@sha256:abc' },
      {
        spec: {
          containers: [
            { name: 'ingester', image: 'registry.example:5000/grafana/mimir:2.15.0@sha256:abc' },
          ],
        },
      },
    ],
    [
      'image: a template with no container of that image is left alone',
      { kind: 'image', image: 'grafana/loki:3.0.0' },
      {},
    ],
    [
      'image: a named container',
      { kind: 'image', image: 'busybox:2', container: 'sidecar' },
      { spec: { containers: [{ name: 'sidecar', image: 'busybox:2' }] } },
    ],
    [
      'template: annotations only',
      { kind: 'template', annotations: { 'config-hash': 'abc' } },
      { metadata: { annotations: { 'config-hash': 'abc' } } },
    ],
    [
      'template: env on every container, merged by name, valueFrom cleared where set',
      { kind: 'template', env: { B: '2', FROM_SECRET: 'plain' } },
      {
        spec: {
          containers: [
            {
              name: 'ingester',
              env: [
                { name: 'B', value: '2' },
                { name: 'FROM_SECRET', value: 'plain', valueFrom: null },
              ],
            },
            {
              name: 'sidecar',
              env: [
                { name: 'B', value: '2' },
                { name: 'FROM_SECRET', value: 'plain' },
              ],
            },
          ],
        },
      },
    ],
    ['template: nothing to set is an empty patch', { kind: 'template' }, {}],
  ])('%s', (_t, change, patch) => {
    expect(buildTemplatePatch(change, 'r1', tpl)).toEqual({ ok: true, patch });
  });

  it('refuses an unknown container, naming the ones there are', () => {
    expect(buildTemplatePatch({ kind: 'image', image: 'x', container: 'nope' }, 'r1', tpl)).toEqual(
      {
        ok: false,
        error: 'no container "nope" in the pod template (containers: ingester, sidecar)',
      },
    );
  });

  it('refuses an image change on a template without containers', () => {
    expect(
      buildTemplatePatch({ kind: 'image', image: 'x' }, 'r1', { spec: { containers: [] } }).ok,
    ).toBe(false);
  });
});

describe('templateHasChange', () => {
  it.each<[string, Change, boolean]>([
    ['image already set', { kind: 'image', image: 'grafana/mimir:2.14.0' }, true],
    ['other image', { kind: 'image', image: 'grafana/mimir:2.15.0' }, false],
    ['restart not yet annotated', { kind: 'restart' }, false],
    [
      'env from a secret is not the plain value',
      { kind: 'template', env: { FROM_SECRET: 'plain' } },
      false,
    ],
  ])('%s', (_t, change, expected) => expect(templateHasChange(change, 'r1', tpl)).toBe(expected));

  it('restart with the same rollout id is in place', () => {
    expect(
      templateHasChange({ kind: 'restart' }, 'r1', {
        metadata: { annotations: { 'ringmaster.dev/restarted-by': 'r1' } },
      }),
    ).toBe(true);
  });
});

describe('statefulSetPatch', () => {
  const change: Change = { kind: 'image', image: 'grafana/mimir:2.15.0' };

  it('OnDelete set: template and rollout id, guarded by resourceVersion, strategy untouched', () => {
    expect(
      statefulSetPatch(zonedSts('ingester', 'zone-a', 2), {
        change,
        rolloutId: 'r1',
        takeOver: false,
      }),
    ).toEqual({
      ok: true,
      patch: {
        metadata: { resourceVersion: '100', annotations: { 'ringmaster.dev/rollout-id': 'r1' } },
        spec: {
          template: { spec: { containers: [{ name: 'ingester', image: 'grafana/mimir:2.15.0' }] } },
        },
      },
    });
  });

  it('RollingUpdate set without take-over: refused, naming the workload', () => {
    const r = statefulSetPatch(sts('compactor', 2, { strategy: 'RollingUpdate' }), {
      change,
      rolloutId: 'r1',
      takeOver: false,
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(
      /^StatefulSet mimir\/mimir-compactor uses updateStrategy RollingUpdate: .*refusing/,
    );
  });

  it('RollingUpdate set with take-over: switched to OnDelete in the same patch, rollingUpdate removed', () => {
    const r = statefulSetPatch(sts('compactor', 2, { strategy: 'RollingUpdate' }), {
      change,
      rolloutId: 'r1',
      takeOver: true,
    });
    expect(r).toMatchObject({
      ok: true,
      patch: {
        spec: {
          updateStrategy: { type: 'OnDelete', rollingUpdate: null },
          template: { spec: { containers: [{ name: 'compactor' }] } },
        },
      },
    });
  });

  it('a set with no strategy (API default RollingUpdate) is refused too', () => {
    const s = sts('compactor', 2);
    delete s.spec!.updateStrategy;
    expect(statefulSetPatch(s, { change, rolloutId: 'r1', takeOver: false }).ok).toBe(false);
  });
});

describe('deploymentPatch', () => {
  it('sets maxUnavailable and forces RollingUpdate; maxSurge is left to the owner', () => {
    expect(
      deploymentPatch(deployment('querier', 4), {
        change: { kind: 'restart' },
        rolloutId: 'r9',
        maxUnavailable: 2,
      }),
    ).toEqual({
      ok: true,
      patch: {
        metadata: { resourceVersion: '100', annotations: { 'ringmaster.dev/rollout-id': 'r9' } },
        spec: {
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
          template: { metadata: { annotations: { 'ringmaster.dev/restarted-by': 'r9' } } },
        },
      },
    });
  });

  it('sets minReadySeconds (the soak) when given, and refuses a negative one', () => {
    const base = { change: { kind: 'restart' as const }, rolloutId: 'r9', maxUnavailable: 1 };
    const r = deploymentPatch(deployment('querier', 4), { ...base, minReadySeconds: 30 });
    expect(r).toMatchObject({ ok: true, patch: { spec: { minReadySeconds: 30 } } });
    expect(deploymentPatch(deployment('querier', 4), { ...base, minReadySeconds: -1 }).ok).toBe(
      false,
    );
  });

  it.each([0, -1, 1.5])('refuses maxUnavailable %p', (n) => {
    expect(
      deploymentPatch(deployment('querier', 4), {
        change: { kind: 'restart' },
        rolloutId: 'r',
        maxUnavailable: n,
      }).ok,
    ).toBe(false);
  });
});
