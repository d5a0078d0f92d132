/**
 * A stand-in for Mimir's `GET /ready` for kwok pods (which run no process): an HTTP server on
 * 127.0.0.1 answering `GET /ready/{namespace}/{pod}` with 200 once that pod has been Ready for
 * `delayMs`, 503 before (ready-stub.rules.ts). It learns pods from its own list-then-watch of
 * the cluster (libs/kube's watchResources), so answering costs the API server nothing.
 *
 * Point the health watcher at it with
 *   RINGMASTER_READY_PROBE_URL=http://127.0.0.1:<port>/ready/{namespace}/{pod}
 * (`stub.probeUrlTemplate`). Also: `GET /healthz` -> 200, anything else -> 404; before its
 * first list the stub answers 503 for every pod.
 *
 *   const stub = await startReadyStub({ context: 'kwok-ringmaster-1', delayMs: 2000 });
 *   await stub.synced; ...; await stub.close();
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { loadClusters, watchResources, type ResourceWatch } from '@ringmaster/kube';
import { nextPodState, parseReadyPath, readyAnswer, type StubPodState } from './ready-stub.rules';

export interface ReadyStubOptions {
  /** kubeconfig file; default: client-node's lookup ($KUBECONFIG, ~/.kube/config). */
  kubeconfig?: string;
  /** Context; default: the kubeconfig's current context. */
  context?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  host?: string;
  /** How long a pod must have been Ready before /ready says 200 (default 2000). */
  delayMs?: number;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  labelSelector?: string;
  /** Called for watch errors (default: ignored; the watch retries). */
  onError?: (err: unknown) => void;
}

export interface ReadyStub {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** For RINGMASTER_READY_PROBE_URL. */
  probeUrlTemplate: string;
  /** Resolves after the first list of pods. */
  synced: Promise<void>;
  /** Requests answered so far, by status. */
  answered(): Record<number, number>;
  close(): Promise<void>;
}

export async function startReadyStub(opts: ReadyStubOptions = {}): Promise<ReadyStub> {
  const delayMs = opts.delayMs ?? 2000;
  const host = opts.host ?? '127.0.0.1';
  const clusters = loadClusters({
    kubeconfigPath: opts.kubeconfig,
    contexts: opts.context ? [opts.context] : [],
  });
  const clients = [...clusters.values()][0];
  const pods = new Map<string, StubPodState>();
  const keyOf = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;
  let synced = false;
  const answered: Record<number, number> = {};

  const watch: ResourceWatch = watchResources(
    clients,
    opts.namespace,
    'pods',
    {
      onResync: (list) => {
        const now = Date.now();
        const next = new Map<string, StubPodState>();
        for (const p of list) next.set(keyOf(p), nextPodState(pods.get(keyOf(p)), p, now, true));
        pods.clear();
        for (const [k, v] of next) pods.set(k, v);
        synced = true;
      },
      onUpsert: (p) => {
        pods.set(keyOf(p), nextPodState(pods.get(keyOf(p)), p, Date.now(), false));
      },
      onDelete: (p) => {
        const known = pods.get(keyOf(p));
        if (!known || !p.metadata?.uid || known.uid === p.metadata.uid) pods.delete(keyOf(p));
      },
      onError: (err) => opts.onError?.(err),
    },
    opts.labelSelector ? { labelSelector: opts.labelSelector } : {},
  );

  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string) => {
      answered[status] = (answered[status] ?? 0) + 1;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (req.method !== 'GET') return reply(405, 'GET only\n');
    const url = req.url ?? '/';
    if (url === '/healthz') return reply(200, 'ok\n');
    const where = parseReadyPath(url);
    if (!where) return reply(404, 'use GET /ready/{namespace}/{pod}\n');
    if (!synced) return reply(503, 'stub has not listed pods yet\n');
    const a = readyAnswer(pods.get(`${where.namespace}/${where.pod}`), Date.now(), delayMs);
    reply(a.status, a.body);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  return {
    port,
    url,
    probeUrlTemplate: `${url}/ready/{namespace}/{pod}`,
    synced: watch.synced,
    answered: () => ({ ...answered }),
    close: async () => {
      await watch.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
