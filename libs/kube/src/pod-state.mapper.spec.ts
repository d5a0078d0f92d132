import type { V1Pod } from '@kubernetes/client-node';
import { T0_MS, deployment, deploymentPod, sts, stsPod, zonedSts } from './testing/chart-objects';
import { isPodReady, podDetails, toPodObs, workloadOfPod } from './pod-state.mapper';

/** Like toMatchObject, but `undefined` means "absent or undefined". */
function expectFields(actual: object, expected: object) {
  const a = actual as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected)) expect([k, a[k]]).toEqual([k, v]);
}

const ingesterA = zonedSts('ingester', 'zone-a', 2);
const querier = deployment('querier', 2);
const alertmanager = sts('alertmanager', 3);
const mono = sts('all', 3, { name: 'mimir' });

describe('toPodObs (chart-shaped pods)', () => {
  it.each<[string, V1Pod, object]>([
    [
      'zoned ingester pod: component from rollout-group, zone label, StatefulSet revision',
      stsPod(ingesterA, 0, { readySince: '2025-01-01T00:00:10Z' }),
      {
        name: 'mimir-ingester-zone-a-0',
        uid: 'uid-mimir-ingester-zone-a-0',
        workload: 'mimir-ingester-zone-a',
        component: 'ingester',
        zone: 'zone-a',
        revision: 'mimir-ingester-zone-a-rev1',
        ready: true,
        readySince: T0_MS + 10_000,
      },
    ],
    [
      'Deployment pod: workload = ReplicaSet name minus pod-template-hash, revision = hash',
      deploymentPod(querier, '7f9d8b6c5', 'x2k4p'),
      {
        name: 'mimir-querier-7f9d8b6c5-x2k4p',
        workload: 'mimir-querier',
        component: 'querier',
        revision: '7f9d8b6c5',
        ready: true,
        readySince: T0_MS,
      },
    ],
    [
      'not Ready: no readySince',
      stsPod(alertmanager, 1, { ready: false }),
      {
        workload: 'mimir-alertmanager',
        component: 'alertmanager',
        ready: false,
        readySince: undefined,
      },
    ],
    [
      'terminating pod with Ready=True counts as not ready',
      stsPod(alertmanager, 2, { deleting: true }),
      { ready: false, terminating: true, readySince: undefined },
    ],
    [
      'monolithic pod: component all',
      stsPod(mono, 0),
      { name: 'mimir-0', workload: 'mimir', component: 'all', revision: 'mimir-rev1' },
    ],
  ])('%s', (_title, pod, expected) => {
    expectFields(toPodObs(pod), expected);
  });

  it('takes the zone from the node when the pod has no zone label', () => {
    const pod = deploymentPod(querier, 'abc', 'q1', { nodeName: 'kwok-zone-c-0' });
    expect(toPodObs(pod).zone).toBeUndefined();
    expect(toPodObs(pod, { nodeZones: new Map([['kwok-zone-c-0', 'zone-c']]) }).zone).toBe(
      'zone-c',
    );
  });

  it('prefers the zone label over the node zone', () => {
    const pod = stsPod(ingesterA, 1, { nodeName: 'kwok-zone-c-0' });
    expect(toPodObs(pod, { nodeZones: new Map([['kwok-zone-c-0', 'zone-c']]) }).zone).toBe(
      'zone-a',
    );
  });

  it('applies the component override map and the override annotation', () => {
    const pod = stsPod(alertmanager, 0);
    expect(toPodObs(pod, { componentOverrides: { 'mimir-alertmanager': 'am' } }).component).toBe(
      'am',
    );
    pod.metadata!.annotations = { 'ringmaster.dev/component': 'alerting' };
    expect(toPodObs(pod).component).toBe('alerting');
  });

  it('accepts Date timestamps (typed list objects) as well as strings (watch objects)', () => {
    const pod = stsPod(ingesterA, 0);
    pod.status!.conditions![1].lastTransitionTime = new Date(T0_MS + 5);
    expect(toPodObs(pod).readySince).toBe(T0_MS + 5);
  });
});

describe('workloadOfPod', () => {
  it.each<[string, V1Pod, string]>([
    ['StatefulSet owner', stsPod(ingesterA, 0), 'mimir-ingester-zone-a'],
    [
      'ReplicaSet owner named <deployment>-<hash>',
      deploymentPod(querier, 'h1', 'a'),
      'mimir-querier',
    ],
    [
      'ReplicaSet not named after the hash: the name label',
      {
        metadata: {
          name: 'p',
          labels: { name: 'querier', 'pod-template-hash': 'zzz' },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: 'hand-made',
              uid: 'u',
              controller: true,
            },
          ],
        },
      },
      'querier',
    ],
    ['no owner: the name label', { metadata: { name: 'p', labels: { name: 'ruler' } } }, 'ruler'],
    ['no owner, no label: the pod itself', { metadata: { name: 'lonely' } }, 'lonely'],
  ])('%s', (_t, pod, expected) => expect(workloadOfPod(pod)).toBe(expected));
});

describe('isPodReady / podDetails', () => {
  it('a pod without conditions is not ready', () => {
    expect(isPodReady({ metadata: { name: 'p' }, status: { phase: 'Pending' } })).toBe(false);
  });

  it('reports where the pod runs and its ready probe', () => {
    const pod = stsPod(mono, 0);
    pod.metadata!.annotations = { 'ringmaster.dev/ready-probe': '8080/ready' };
    expect(podDetails(pod)).toEqual({
      namespace: 'mimir-mono',
      phase: 'Running',
      nodeName: 'kwok-zone-a-0',
      podIP: '10.0.0.1',
      readyProbe: '8080/ready',
    });
  });
});
