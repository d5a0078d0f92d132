/**
 * (d) Discovery maps the Mimir-shaped fixture (test/fixtures/mimir/render.mjs, size small) in
 * both modes. The test renders its own copy into namespaces of its own, so it does not depend
 * on what `cluster.sh up --fixture` left in `mimir`/`mimir-mono` (or on its size).
 */
import { type KubeClusterClients, type Topology, TopologyDiscovery } from '../src';
import {
  createAll,
  deleteNamespace,
  firstCluster,
  loadTestClusters,
  renderFixture,
  uniqueNamespace,
  waitFor,
} from './kube-test.env';

jest.setTimeout(180_000);

describe('TopologyDiscovery against the Mimir-shaped fixture (kwok)', () => {
  const clusters = loadTestClusters();
  const c: KubeClusterClients = firstCluster(clusters);
  const msNs = uniqueNamespace('ms');
  const monoNs = uniqueNamespace('mono');
  const discovery = new TopologyDiscovery(clusters);

  /** Discovers until every workload is settled and every pod is Ready. */
  const settled = (ns: string, pods: number) =>
    waitFor(
      `fixture in ${ns} Ready`,
      async (): Promise<Topology | undefined> => {
        const t = await discovery.discover(c.name, ns);
        const wlOk = t.workloads.every(
          (w) =>
            w.observedGeneration >= w.generation &&
            w.readyReplicas === w.replicas &&
            w.updatedReplicas === w.replicas,
        );
        return t.pods.length === pods && t.pods.every((p) => p.ready) && wlOk ? t : undefined;
      },
      150_000,
      1000,
    );

  beforeAll(async () => {
    await createAll(c, renderFixture('microservices', msNs));
    await createAll(c, renderFixture('monolithic', monoNs));
  });

  afterAll(async () => {
    await deleteNamespace(c, msNs);
    await deleteNamespace(c, monoNs);
  });

  it('microservices: 14 workloads, 26 pods, zones and revisions as the chart lays them out', async () => {
    const t = await settled(msNs, 26);
    expect(t.mode).toBe('microservices');
    expect(t.components).toEqual([
      'alertmanager',
      'compactor',
      'distributor',
      'gateway',
      'ingester',
      'querier',
      'query-frontend',
      'query-scheduler',
      'ruler',
      'store-gateway',
    ]);
    expect(t.workloads.map((w) => `${w.kind}/${w.name}`)).toEqual([
      'StatefulSet/mimir-alertmanager',
      'StatefulSet/mimir-compactor',
      'Deployment/mimir-distributor',
      'Deployment/mimir-gateway',
      'StatefulSet/mimir-ingester-zone-a',
      'StatefulSet/mimir-ingester-zone-b',
      'StatefulSet/mimir-ingester-zone-c',
      'Deployment/mimir-querier',
      'Deployment/mimir-query-frontend',
      'Deployment/mimir-query-scheduler',
      'Deployment/mimir-ruler',
      'StatefulSet/mimir-store-gateway-zone-a',
      'StatefulSet/mimir-store-gateway-zone-b',
      'StatefulSet/mimir-store-gateway-zone-c',
    ]);
    const byName = new Map(t.workloads.map((w) => [w.name, w]));
    expect(byName.get('mimir-ingester-zone-b')).toMatchObject({
      component: 'ingester',
      zone: 'zone-b',
      updateStrategy: 'OnDelete',
      replicas: 2,
      maxUnavailablePerZone: 50,
    }); // the chart's rollout-max-unavailable "50"
    expect(byName.get('mimir-querier')!.updateRevision).toMatch(/^[a-z0-9]{6,12}$/); // newest ReplicaSet's pod-template-hash
    // Every pod is at its workload's update revision; zoned pods carry their zone.
    for (const p of t.pods)
      expect([p.name, p.revision]).toEqual([p.name, byName.get(p.workload)!.updateRevision]);
    expect(
      t.pods.filter((p) => p.component === 'ingester').map((p) => `${p.name}@${p.zone}`),
    ).toEqual([
      'mimir-ingester-zone-a-0@zone-a',
      'mimir-ingester-zone-a-1@zone-a',
      'mimir-ingester-zone-b-0@zone-b',
      'mimir-ingester-zone-b-1@zone-b',
      'mimir-ingester-zone-c-0@zone-c',
      'mimir-ingester-zone-c-1@zone-c',
    ]);
    // Stateless pods have no zone label: their node's zone (topology.kubernetes.io/zone).
    expect(
      t.pods
        .filter((p) => p.component === 'querier')
        .every((p) => /^zone-[abc]$/.test(p.zone ?? '')),
    ).toBe(true);
    expect(t.warnings).toEqual([]);
  });

  it('monolithic: one StatefulSet `mimir`, component all, 3 pods', async () => {
    const t = await settled(monoNs, 3);
    expect(t).toMatchObject({ mode: 'monolithic', components: ['all'] });
    expect(t.workloads).toHaveLength(1);
    expect(t.workloads[0]).toMatchObject({
      name: 'mimir',
      kind: 'StatefulSet',
      component: 'all',
      updateStrategy: 'OnDelete',
      replicas: 3,
    });
    expect(t.pods.map((p) => p.name).sort()).toEqual(['mimir-0', 'mimir-1', 'mimir-2']); // core order: node zone, then ordinal
  });

  it('an unknown cluster is a permanent error naming the configured ones', async () => {
    await expect(discovery.discover('nope', msNs)).rejects.toThrow(
      /unknown cluster "nope"; configured: /,
    );
  });
});
