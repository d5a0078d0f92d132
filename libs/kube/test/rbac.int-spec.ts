/**
 * deploy/kubernetes/rbac.yaml, proven on a kwok API server that runs the RBAC authorizer
 * (kwokctl's default `--kube-authorization`: `--authorization-mode=Node,RBAC`).
 *
 * How: the manifest is rendered into two fresh namespaces (its ServiceAccounts into one, its
 * Roles and RoleBindings into the one holding the small Mimir fixture) and applied with
 * kubectl as admin. A token per ServiceAccount is minted with the TokenRequest API, and a
 * kubeconfig per ServiceAccount holds the admin kubeconfig's server and CA with that token
 * only. The real libs/kube code paths then run as each identity: the executor's
 * KubeCommandRunner (evict, delete, StatefulSet template, Deployment roll and pause) and
 * the watcher's list+watch of four kinds and TopologyDiscovery. Whatever is outside a role
 * must be answered 403 by the API server, which the test reads from the real responses.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  KubeConfig,
  type KubernetesObject,
  PatchStrategy,
  type V1PolicyRule,
  loadAllYaml,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Command } from '@ringmaster/rollout-core';
import {
  type KubeClusterClients,
  KubeCommandRunner,
  ResourceWatcher,
  TopologyDiscovery,
  type WatchKind,
  classifyKubeError,
  loadClusters,
  toPodObs,
} from '../src';
import {
  REPO_ROOT,
  createAll,
  createNamespace,
  deleteNamespace,
  firstCluster,
  loadTestClusters,
  renderFixture,
  testKubeconfigPath,
  uniqueNamespace,
  waitFor,
} from './kube-test.env';

jest.setTimeout(180_000);

const MANIFEST = join(REPO_ROOT, 'deploy/kubernetes/rbac.yaml');
const EXECUTOR = 'ringmaster-executor';
const WATCHER = 'ringmaster-health-watcher';
const SELECTOR = 'app.kubernetes.io/name=mimir';

/** The manifest with its ServiceAccounts in `saNs` and its Roles/RoleBindings in `targetNs`. */
function renderRbac(saNs: string, targetNs: string): string {
  return readFileSync(MANIFEST, 'utf8')
    .replace(/^(\s*namespace:) ringmaster$/gm, `$1 ${saNs}`)
    .replace(/^(\s*namespace:) mimir$/gm, `$1 ${targetNs}`);
}

/** The answer of the API server to a call that must be refused: status and message. */
async function refusal(call: Promise<unknown>): Promise<{ status?: number; message: string }> {
  try {
    await call;
  } catch (err) {
    const c = classifyKubeError(err);
    return { status: c.status, message: c.message };
  }
  return { status: 200, message: 'allowed' };
}

describe('RBAC manifest deploy/kubernetes/rbac.yaml against kwok', () => {
  const admin: KubeClusterClients = firstCluster(loadTestClusters());
  const saNs = uniqueNamespace('rbac-sa');
  const ns = uniqueNamespace('rbac');
  const tmp = mkdtempSync(join(tmpdir(), 'rk-rbac-'));
  const cluster = 'rbac';
  /** Clients of each ServiceAccount, loaded by the real loadClusters from its kubeconfig. */
  const as: Record<string, Map<string, KubeClusterClients>> = {};
  const clientsOf = (sa: string) => as[sa].get(cluster)!;
  const user = (sa: string) => `system:serviceaccount:${saNs}:${sa}`;

  const kubectl = (args: string[], input?: string) => {
    const path = testKubeconfigPath();
    return execFileSync(
      'kubectl',
      [...(path ? ['--kubeconfig', path] : []), '--context', admin.context, ...args],
      { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] },
    );
  };

  /** A kubeconfig with the admin context's server and CA and the ServiceAccount's token only. */
  const identity = async (sa: string): Promise<Map<string, KubeClusterClients>> => {
    const tr = await admin.core.createNamespacedServiceAccountToken({
      name: sa,
      namespace: saNs,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tr.status?.token;
    if (!token) throw new Error(`no token for ${sa}`);
    const server = admin.kc.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'kwok', server: server.server, caData: server.caData, caFile: server.caFile },
      ],
      users: [{ name: sa, token }],
      contexts: [{ name: sa, cluster: 'kwok', user: sa }],
      currentContext: sa,
    });
    const file = join(tmp, `${sa}.kubeconfig`);
    writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
    return loadClusters({ kubeconfigPath: file, contexts: [`${cluster}=${sa}`] });
  };

  /** The RBAC authorizer's cache has the bindings once a SubjectAccessReview says so. */
  const authorized = (sa: string, verb: string, resource: string, group = '') =>
    waitFor(`${sa} may ${verb} ${resource}`, async () => {
      const r = await admin.kc.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
        body: {
          spec: { user: user(sa), resourceAttributes: { namespace: ns, verb, resource, group } },
        },
      });
      return r.status?.allowed === true;
    });

  const pod = (name: string) => admin.core.readNamespacedPod({ name, namespace: ns });

  beforeAll(async () => {
    await createNamespace(admin, saNs);
    await createAll(admin, renderFixture('microservices', ns));
    // A real secret, so a refusal to read it cannot be a 404 in disguise.
    await admin.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'mimir-credentials' }, stringData: { password: 'not-for-you' } },
    });
    kubectl(['apply', '-f', '-'], renderRbac(saNs, ns));
    await authorized(EXECUTOR, 'create', 'pods/eviction');
    await authorized(WATCHER, 'watch', 'replicasets', 'apps');
    as[EXECUTOR] = await identity(EXECUTOR);
    as[WATCHER] = await identity(WATCHER);
    await waitFor(
      `fixture in ${ns} Ready`,
      async () => {
        const pods = (await admin.core.listNamespacedPod({ namespace: ns })).items;
        return pods.length === 26 && pods.every((p) => toPodObs(p).ready);
      },
      150_000,
      1000,
    );
  });

  afterAll(async () => {
    await deleteNamespace(admin, ns);
    await deleteNamespace(admin, saNs);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('grants exactly the verbs the code needs: no *, no secrets, no delete on workloads, nothing cluster-scoped', () => {
    const objects = loadAllYaml(readFileSync(MANIFEST, 'utf8')) as (KubernetesObject & {
      rules?: V1PolicyRule[];
    })[];
    expect(objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual([
      'ServiceAccount/ringmaster/ringmaster-executor',
      'ServiceAccount/ringmaster/ringmaster-health-watcher',
      'Role/mimir/ringmaster-executor',
      'RoleBinding/mimir/ringmaster-executor',
      'Role/mimir/ringmaster-health-watcher',
      'RoleBinding/mimir/ringmaster-health-watcher',
    ]);
    const rules = (name: string) =>
      objects
        .find((o) => o.kind === 'Role' && o.metadata?.name === name)!
        .rules!.flatMap((r) =>
          r.resources!.map((res) => `${r.apiGroups!.join('')}/${res}: ${r.verbs.join(',')}`),
        );
    expect(rules(EXECUTOR)).toEqual([
      '/pods: get,delete',
      '/pods/eviction: create',
      'apps/statefulsets: get,patch',
      'apps/deployments: get,patch',
    ]);
    expect(rules(WATCHER)).toEqual([
      '/pods: list,watch',
      'apps/statefulsets: list,watch',
      'apps/deployments: list,watch',
      'apps/replicasets: list,watch',
    ]);
  });

  it('each kubeconfig authenticates as its ServiceAccount (a token, no client certificate)', async () => {
    for (const sa of [EXECUTOR, WATCHER]) {
      const file = readFileSync(join(tmp, `${sa}.kubeconfig`), 'utf8');
      expect(file).not.toContain('client-certificate');
      expect(file).toContain('"token"');
      const who = await clientsOf(sa)
        .kc.makeApiClient(AuthenticationV1Api)
        .createSelfSubjectReview({ body: {} });
      expect(who.status?.userInfo?.username).toBe(user(sa));
    }
  });

  describe('health watcher', () => {
    it('lists and watches pods, StatefulSets, Deployments and ReplicaSets', async () => {
      const watcher = new ResourceWatcher(as[WATCHER]);
      const kinds: WatchKind[] = ['pods', 'statefulsets', 'deployments', 'replicasets'];
      const listed = new Map<WatchKind, string[]>();
      const upserts: KubernetesObject[] = [];
      const errors: string[] = [];
      const watches = kinds.map((kind) =>
        watcher.watch(
          cluster,
          ns,
          kind,
          {
            onResync: (list: KubernetesObject[]) =>
              void listed.set(kind, list.map((o) => o.metadata!.name!).sort()),
            onUpsert: (o: KubernetesObject) => void upserts.push(o),
            onDelete: () => undefined,
            onError: (err) => void errors.push(classifyKubeError(err).message),
          },
          { labelSelector: SELECTOR, timeoutSeconds: 60 },
        ),
      );
      try {
        await Promise.all(watches.map((w) => w.synced));
        const names = async (kind: WatchKind) => {
          const l =
            kind === 'pods'
              ? await admin.core.listNamespacedPod({ namespace: ns, labelSelector: SELECTOR })
              : kind === 'statefulsets'
                ? await admin.apps.listNamespacedStatefulSet({
                    namespace: ns,
                    labelSelector: SELECTOR,
                  })
                : kind === 'deployments'
                  ? await admin.apps.listNamespacedDeployment({
                      namespace: ns,
                      labelSelector: SELECTOR,
                    })
                  : await admin.apps.listNamespacedReplicaSet({
                      namespace: ns,
                      labelSelector: SELECTOR,
                    });
          return (l.items as KubernetesObject[]).map((o) => o.metadata!.name!).sort();
        };
        for (const kind of kinds) {
          expect(listed.get(kind)!.length).toBeGreaterThan(0);
          expect(listed.get(kind)).toEqual(await names(kind));
        }
        // A change made now reaches the watcher through its watch, not a list.
        await admin.core.patchNamespacedPod(
          {
            name: 'mimir-compactor-0',
            namespace: ns,
            body: { metadata: { annotations: { 'example.com/rbac-watch': 'seen' } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        await waitFor('the annotation in a watch event', () =>
          upserts.some((o) => o.metadata?.annotations?.['example.com/rbac-watch'] === 'seen'),
        );
        expect(errors).toEqual([]);
        expect(watches.every((w) => w.stats().lists === 1 && w.stats().errors === 0)).toBe(true);
      } finally {
        await Promise.all(watches.map((w) => w.stop()));
      }
    });

    it('discovers the topology; the Node list it may not make degrades to a warning', async () => {
      const t = await new TopologyDiscovery(as[WATCHER]).discover(cluster, ns);
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
      expect(t.workloads).toHaveLength(14);
      expect(t.pods.length).toBeGreaterThanOrEqual(26);
      expect(t.warnings).toEqual([
        expect.stringMatching(
          /^nodes not readable, zones of unlabelled pods unknown: 403 Forbidden: .*cannot list resource "nodes"/,
        ),
      ]);
    });

    it('is refused (403) evicting, deleting, reading and patching anything', async () => {
      const w = clientsOf(WATCHER);
      const who = `User "${user(WATCHER)}"`;
      const name = 'mimir-compactor-0';
      expect(
        await refusal(
          w.core.createNamespacedPodEviction({
            name,
            namespace: ns,
            body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } },
          }),
        ),
      ).toEqual({
        status: 403,
        message: expect.stringContaining(`${who} cannot create resource "pods/eviction"`),
      });
      expect(await refusal(w.core.deleteNamespacedPod({ name, namespace: ns }))).toEqual({
        status: 403,
        message: expect.stringContaining(`${who} cannot delete resource "pods"`),
      });
      expect(await refusal(w.core.readNamespacedPod({ name, namespace: ns }))).toMatchObject({
        status: 403,
      });
      const smp = () => setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
      const body = { metadata: { annotations: { 'example.com/rbac': 'no' } } };
      expect(
        await refusal(
          w.apps.patchNamespacedStatefulSet(
            { name: 'mimir-compactor', namespace: ns, body },
            smp(),
          ),
        ),
      ).toEqual({
        status: 403,
        message: expect.stringContaining(`${who} cannot patch resource "statefulsets"`),
      });
      expect(
        await refusal(
          w.apps.patchNamespacedDeployment({ name: 'mimir-querier', namespace: ns, body }, smp()),
        ),
      ).toEqual({
        status: 403,
        message: expect.stringContaining(`${who} cannot patch resource "deployments"`),
      });
      expect(
        await refusal(w.core.patchNamespacedPod({ name, namespace: ns, body }, smp())),
      ).toMatchObject({ status: 403 });
      expect(await refusal(w.core.listNamespacedSecret({ namespace: ns }))).toMatchObject({
        status: 403,
      });
      expect(await refusal(w.core.listNamespacedPod({ namespace: saNs }))).toMatchObject({
        status: 403,
      });
      // The executor's own code path with the watcher's identity: refused at its first read.
      const uid = (await pod(name)).metadata!.uid!;
      const r = await new KubeCommandRunner(as[WATCHER]).run({
        kind: 'restart-pod',
        id: 'rbac:watcher-evict',
        rolloutId: 'rbac',
        target: { cluster, namespace: ns },
        pod: name,
        uid,
        method: 'evict',
      });
      expect(r.outcome).toBe('failed');
      expect(r.detail).toContain('403 Forbidden');
      expect((await pod(name)).metadata?.uid).toBe(uid);
    });
  });

  describe('executor', () => {
    const runner = () => new KubeCommandRunner(as[EXECUTOR], { refusalDeadlineMs: 60_000 });
    const target = () => ({ cluster, namespace: ns });
    const restart = async (name: string, method: 'evict' | 'delete') => {
      const uid = (await pod(name)).metadata!.uid!;
      const cmd: Command = {
        kind: 'restart-pod',
        id: `rbac:${name}`,
        rolloutId: 'rbac',
        target: target(),
        pod: name,
        uid,
        method,
      };
      return { uid, result: await runner().run(cmd) };
    };
    const replaced = (name: string, uid: string) =>
      waitFor(`${name} replaced`, async () => (await pod(name)).metadata?.uid !== uid, 60_000);

    it('evicts a pod (get pods + create pods/eviction); its StatefulSet recreates it', async () => {
      const { uid, result } = await restart('mimir-ingester-zone-a-0', 'evict');
      // A 429 first is possible (the PDB's status still settling) and also means authorized.
      expect(result.outcome).toBe('done');
      expect(result.detail).toContain(
        `pod ${cluster}/${ns}/mimir-ingester-zone-a-0 evicted (uid ${uid})`,
      );
      await replaced('mimir-ingester-zone-a-0', uid);
    });

    it('deletes a pod when the command says so (delete pods, uid precondition)', async () => {
      const { uid, result } = await restart('mimir-store-gateway-zone-b-0', 'delete');
      expect(result.outcome).toBe('done');
      expect(result.detail).toContain('deleted');
      await replaced('mimir-store-gateway-zone-b-0', uid);
    });

    it('patches a StatefulSet template (get + patch statefulsets)', async () => {
      const name = 'mimir-ingester-zone-b';
      const before = await admin.apps.readNamespacedStatefulSet({ name, namespace: ns });
      const result = await runner().run({
        kind: 'apply-template',
        id: 'rbac:sts',
        rolloutId: 'rbac',
        target: target(),
        workload: name,
        change: { kind: 'template', annotations: { 'example.com/rbac': 'patched' } },
        takeOver: false,
      });
      expect(result.outcome).toBe('done');
      expect(result.generation).toBe(before.metadata!.generation! + 1);
      const after = await admin.apps.readNamespacedStatefulSet({ name, namespace: ns });
      expect(after.spec?.template.metadata?.annotations?.['example.com/rbac']).toBe('patched');
    });

    it('rolls a Deployment and pauses/resumes it (get + patch deployments)', async () => {
      const name = 'mimir-querier';
      const before = await admin.apps.readNamespacedDeployment({ name, namespace: ns });
      const base = { rolloutId: 'rbac', target: target(), workload: name };
      const roll = await runner().run({
        ...base,
        kind: 'roll-deployment',
        id: 'rbac:roll',
        change: { kind: 'restart' },
        maxUnavailable: 1,
        minReadySeconds: 0,
      });
      expect(roll.outcome).toBe('done');
      expect(roll.generation).toBe(before.metadata!.generation! + 1);
      const paused = await runner().run({
        ...base,
        kind: 'set-deployment-paused',
        id: 'rbac:pause',
        paused: true,
      });
      expect(paused.outcome).toBe('done');
      expect(
        (await admin.apps.readNamespacedDeployment({ name, namespace: ns })).spec?.paused,
      ).toBe(true);
      const resumed = await runner().run({
        ...base,
        kind: 'set-deployment-paused',
        id: 'rbac:resume',
        paused: false,
      });
      expect(resumed.outcome).toBe('done');
      expect(
        (await admin.apps.readNamespacedDeployment({ name, namespace: ns })).spec?.paused,
      ).toBeFalsy();
    });

    it('is refused (403) a StatefulSet delete, secrets, lists, and any other namespace', async () => {
      const e = clientsOf(EXECUTOR);
      const who = `User "${user(EXECUTOR)}"`;
      const del = await refusal(
        e.apps.deleteNamespacedStatefulSet({ name: 'mimir-compactor', namespace: ns }),
      );
      expect(del).toEqual({
        status: 403,
        message: expect.stringContaining(
          `${who} cannot delete resource "statefulsets" in API group "apps"`,
        ),
      });
      expect(
        (await admin.apps.readNamespacedStatefulSet({ name: 'mimir-compactor', namespace: ns }))
          .metadata?.deletionTimestamp,
      ).toBeUndefined();
      expect(
        await refusal(e.core.readNamespacedSecret({ name: 'mimir-credentials', namespace: ns })),
      ).toEqual({
        status: 403,
        message: expect.stringContaining(`${who} cannot get resource "secrets"`),
      });
      expect(await refusal(e.core.listNamespacedSecret({ namespace: ns }))).toMatchObject({
        status: 403,
      });
      expect(await refusal(e.core.listNamespacedPod({ namespace: ns }))).toEqual({
        status: 403,
        message: expect.stringContaining(`${who} cannot list resource "pods"`),
      });
      // The same command runner, pointed at a namespace the Role is not in.
      const elsewhere = await runner().run({
        kind: 'restart-pod',
        id: 'rbac:elsewhere',
        rolloutId: 'rbac',
        target: { cluster, namespace: saNs },
        pod: 'mimir-ingester-zone-a-0',
        uid: 'x',
        method: 'evict',
      });
      expect(elsewhere.outcome).toBe('failed');
      expect(elsewhere.detail).toContain('403 Forbidden');
      expect(elsewhere.detail).toContain(`in the namespace "${saNs}"`);
    });
  });
});
