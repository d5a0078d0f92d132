/**
 * A fault-injecting HTTPS proxy in front of a (kwok) kube-apiserver, for the chaos lane.
 * toxiproxy works on TCP and cannot answer a request with 429 or 500; this can:
 *
 *   client (executor, watcher) --TLS, our self-signed cert--> KubeFaultProxy --TLS, the
 *   kubeconfig's CA and admin client cert--> the real kube-apiserver
 *
 * Each request that is not a watch goes through the rules in order: each rule whose method
 * and path match, and whose `max` is not spent, draws (seeded, so a run can be repeated)
 * whether to inject its fault with probability `share`; the first hit wins (so with rules of
 * share 0.1 then 0.3, 10% get the first fault and 27% the second):
 *   - `status`: answer 429 (with Retry-After) / 500 / 503 with a Kubernetes Status body, the
 *     request never reaches the API server;
 *   - `hang`: answer nothing; after `ms` close the connection (a client sees a reset or its
 *     own timeout first); without `ms` the request hangs until the client gives up.
 * Anything else is forwarded as is, streaming both ways: watch requests (`?watch=true`) always
 * pass through untouched, so the watches' own reconnect logic is not what is tested here.
 *
 *   const p = new KubeFaultProxy({ kubeconfig, context: 'kwok-ringmaster-1', seed: 7 });
 *   await p.start();
 *   p.setRules([{ name: 'evict-429', method: 'POST', path: /\/eviction$/, share: 0.3,
 *                 fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } }]);
 *   writeKubeconfig(kubeconfig, out, { 'kwok-ringmaster-1': p.endpoint() });  // context names unchanged
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';

export type Fault =
  | { kind: 'status'; status: 429 | 500 | 503; retryAfterSeconds?: number }
  | { kind: 'hang'; ms?: number };

export interface FaultRule {
  name: string;
  /** HTTP method (exact, upper case) or a pattern; any when absent. */
  method?: string | RegExp;
  /** Pattern on the path (no query); any when absent. */
  path?: RegExp;
  /** Share of matching requests that get the fault (0..1). */
  share: number;
  /** At most this many injections (no bound when absent). */
  max?: number;
  fault: Fault;
}

export interface InjectedFault {
  at: number;
  rule: string;
  method: string;
  path: string;
  fault: string;
}

export interface FaultProxyStats {
  forwarded: number;
  watches: number;
  /** rule name -> injections. */
  injected: Record<string, number>;
  log: InjectedFault[];
}

/** Where a kubeconfig should point a cluster: the proxy's URL and the CA that signs its cert. */
export interface ClusterEndpoint {
  server: string;
  caData: string;
}

export interface KubeFaultProxyOptions {
  /** The kubeconfig holding the real API server, its CA and the admin client cert. */
  kubeconfig: string;
  context: string;
  /** Seed of the draws (default 1). */
  seed?: number;
  rules?: FaultRule[];
}

export class KubeFaultProxy {
  private server?: https.Server;
  private rules: FaultRule[];
  private readonly upstream: URL;
  private readonly tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  private readonly agent: https.Agent;
  private readonly own: { cert: string; key: string };
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private readonly counters: FaultProxyStats = { forwarded: 0, watches: 0, injected: {}, log: [] };

  constructor(opts: KubeFaultProxyOptions) {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(opts.kubeconfig);
    const ctx = kc.getContextObject(opts.context);
    if (!ctx) throw new Error(`no context ${opts.context} in ${opts.kubeconfig}`);
    const cluster = kc.getCluster(ctx.cluster);
    const user = kc.getUser(ctx.user);
    if (!cluster || !user) throw new Error(`context ${opts.context}: cluster or user missing`);
    this.upstream = new URL(cluster.server);
    const fromData = (data?: string, file?: string) =>
      data ? Buffer.from(data, 'base64') : file ? readFileSync(file) : undefined;
    this.tls = {
      ca: fromData(cluster.caData, cluster.caFile),
      cert: fromData(user.certData, user.certFile),
      key: fromData(user.keyData, user.keyFile),
    };
    this.agent = new https.Agent({ keepAlive: true, ...this.tls });
    this.own = selfSignedCert();
    this.rules = opts.rules ?? [];
    this.random = mulberry32(opts.seed ?? 1);
  }

  async start(): Promise<void> {
    const server = https.createServer({ cert: this.own.cert, key: this.own.key }, (req, res) =>
      this.handle(req, res),
    );
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  /** For writeKubeconfig: this proxy's URL and the CA of its self-signed certificate. */
  endpoint(): ClusterEndpoint {
    return {
      server: `https://127.0.0.1:${this.port}`,
      caData: Buffer.from(this.own.cert).toString('base64'),
    };
  }

  /** Replaces the rules (counts of earlier injections are kept). */
  setRules(rules: FaultRule[]): void {
    this.rules = rules;
  }

  stats(): FaultProxyStats {
    return JSON.parse(JSON.stringify(this.counters)) as FaultProxyStats;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.agent.destroy();
  }

  private pick(method: string, path: string): FaultRule | undefined {
    for (const r of this.rules) {
      const m =
        r.method === undefined ||
        (typeof r.method === 'string' ? r.method === method : r.method.test(method));
      if (!m || (r.path && !r.path.test(path))) continue;
      if ((this.counters.injected[r.name] ?? 0) >= (r.max ?? Infinity)) continue;
      if (this.random() < r.share) return r;
    }
    return undefined;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://proxy');
    const method = req.method ?? 'GET';
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '');
    if (watch) this.counters.watches++;
    const rule = watch ? undefined : this.pick(method, url.pathname);
    if (rule) return this.inject(rule, method, url.pathname, req, res);
    this.counters.forwarded++;
    this.forward(req, res);
  }

  private inject(
    rule: FaultRule,
    method: string,
    path: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    this.counters.injected[rule.name] = (this.counters.injected[rule.name] ?? 0) + 1;
    const f = rule.fault;
    this.counters.log.push({
      at: Date.now(),
      rule: rule.name,
      method,
      path,
      fault: f.kind === 'status' ? String(f.status) : `hang${f.ms ? ` ${f.ms}ms` : ''}`,
    });
    req.resume(); // drain the body
    if (f.kind === 'hang') {
      if (f.ms !== undefined) {
        const t = setTimeout(() => {
          this.timers.delete(t);
          req.socket.destroy();
        }, f.ms);
        this.timers.add(t);
      }
      return;
    }
    const reason = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable' }[
      f.status
    ];
    const body = JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `injected by the chaos lane's kube-fault proxy (rule ${rule.name})`,
      reason,
      code: f.status,
      ...(f.retryAfterSeconds !== undefined
        ? { details: { retryAfterSeconds: f.retryAfterSeconds } }
        : {}),
    });
    res.writeHead(f.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...(f.retryAfterSeconds !== undefined ? { 'retry-after': String(f.retryAfterSeconds) } : {}),
    });
    res.end(body);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: this.upstream.host };
    delete headers.connection;
    delete headers['keep-alive'];
    const up = https.request(
      {
        protocol: 'https:',
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.agent,
      },
      (ur) => {
        const h = { ...ur.headers };
        delete h.connection;
        delete h['keep-alive'];
        res.writeHead(ur.statusCode ?? 502, h);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    // A client that goes away (a watch aborted) ends the upstream request too.
    res.on('close', () => up.destroy());
    req.pipe(up);
  }
}

/**
 * Writes a copy of `kubeconfig` (JSON, which every kubeconfig reader takes as YAML) where the
 * clusters of the given contexts point elsewhere (a fault proxy). Context, cluster and user
 * names stay the same, so RINGMASTER_CONTEXTS and rollout targets do not change.
 * `caData` absent: the cluster's own CA is kept (a TCP proxy on 127.0.0.1 in front of an API
 * server whose certificate names 127.0.0.1, such as toxiproxy in front of kwok).
 */
export function writeKubeconfig(
  kubeconfig: string,
  out: string,
  endpoints: Record<string, { server: string; caData?: string }>,
): string {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const redirect = new Map<string, { server: string; caData?: string }>();
  for (const [context, ep] of Object.entries(endpoints)) {
    const ctx = kc.getContextObject(context);
    if (!ctx) throw new Error(`no context ${context} in ${kubeconfig}`);
    redirect.set(ctx.cluster, ep);
  }
  const clusters = kc.clusters.map((c) => {
    const ep = redirect.get(c.name);
    if (!ep) return c;
    return {
      ...c,
      server: ep.server,
      ...(ep.caData ? { caData: ep.caData, caFile: undefined } : {}),
    };
  });
  const copy = new k8s.KubeConfig();
  copy.loadFromOptions({
    clusters,
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  writeFileSync(out, copy.exportConfig(), { mode: 0o600 });
  return out;
}

/** The `server` URL of a context in a kubeconfig. */
export function serverOf(kubeconfig: string, context: string): URL {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const ctx = kc.getContextObject(context);
  const cluster = ctx && kc.getCluster(ctx.cluster);
  if (!cluster) throw new Error(`no cluster for context ${context} in ${kubeconfig}`);
  return new URL(cluster.server);
}

/** A throwaway self-signed certificate for 127.0.0.1 (openssl, as on every Debian machine). */
function selfSignedCert(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kube-fault-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=ringmaster-kube-fault-proxy',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same draws. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
