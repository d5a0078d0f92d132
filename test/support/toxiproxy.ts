/**
 * Shopify's toxiproxy (a real TCP fault proxy, built from the Go module proxy by
 * infra/toxiproxy/build.sh) for the chaos lane: started on 127.0.0.1:8474 if nothing answers
 * there yet, and a small typed client of its HTTP API.
 *
 *   const tp = await ensureToxiproxy();            // builds once, starts (or reuses) the server
 *   const kafka = await tp.proxy({ name: `${run}-kafka`, listen: '127.0.0.1:19095', upstream: '127.0.0.1:19094' });
 *   await kafka.add({ name: 'lag', type: 'latency', attributes: { latency: 100, jitter: 50 } });
 *   await kafka.cut();  ...  await kafka.heal();   // disable = refuse new and close open connections
 *   await tp.stop();                               // only stops a server this process started
 *
 * Toxics (https://github.com/Shopify/toxiproxy#toxics): `latency` (ms, +/- jitter), `reset_peer`
 * (RST after `timeout` ms), `timeout` (black hole; closes after `timeout` ms, never if 0),
 * `bandwidth` (KB/s), `limit_data` (close after `bytes`). `stream` is the direction the toxic
 * acts on (downstream: server -> client, the default), `toxicity` the share of connections
 * it applies to.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LOG_DIR, ROOT, waitFor } from './stack';

export const TOXIPROXY_API = process.env.TOXIPROXY_URL ?? 'http://127.0.0.1:8474';

export type ToxicSpec =
  | { type: 'latency'; attributes: { latency: number; jitter?: number } }
  | { type: 'reset_peer'; attributes: { timeout: number } }
  | { type: 'timeout'; attributes: { timeout: number } }
  | { type: 'bandwidth'; attributes: { rate: number } }
  | { type: 'limit_data'; attributes: { bytes: number } };

export type Toxic = ToxicSpec & {
  name: string;
  stream?: 'upstream' | 'downstream';
  /** Share of connections the toxic applies to (0..1, default 1). */
  toxicity?: number;
};

export interface ProxyConfig {
  name: string;
  /** host:port toxiproxy listens on. */
  listen: string;
  /** host:port it forwards to. */
  upstream: string;
  enabled?: boolean;
}

interface ProxyInfo extends Required<ProxyConfig> {
  toxics: Toxic[];
}

export class ToxiproxyClient {
  constructor(readonly api = TOXIPROXY_API) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.api}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  version(): Promise<unknown> {
    return this.call('GET', '/version');
  }

  async proxies(): Promise<Record<string, ProxyInfo>> {
    return this.call('GET', '/proxies');
  }

  /**
   * Creates a proxy (enabled unless said otherwise). A proxy of the same name, or one already
   * listening on the same address (left by a run that died), is deleted first.
   */
  async proxy(config: ProxyConfig): Promise<Proxy> {
    for (const p of Object.values(await this.proxies()))
      if (p.name === config.name || p.listen === config.listen) await this.deleteProxy(p.name);
    await this.call('POST', '/proxies', { enabled: true, ...config });
    return new Proxy(this, config);
  }

  async deleteProxy(name: string): Promise<void> {
    await this.call('DELETE', `/proxies/${encodeURIComponent(name)}`).catch((e: Error) => {
      if (!/404/.test(e.message)) throw e;
    });
  }

  async setEnabled(name: string, enabled: boolean): Promise<void> {
    await this.call('PATCH', `/proxies/${encodeURIComponent(name)}`, { enabled });
  }

  async addToxic(proxy: string, toxic: Toxic): Promise<void> {
    await this.call('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, {
      stream: 'downstream',
      toxicity: 1,
      ...toxic,
    });
  }

  async removeToxic(proxy: string, name: string): Promise<void> {
    await this.call(
      'DELETE',
      `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`,
    ).catch((e: Error) => {
      if (!/404/.test(e.message)) throw e;
    });
  }
}

/** One proxy: its toxics and the cut (disabled) / heal (enabled) switch. */
export class Proxy {
  constructor(
    private readonly client: ToxiproxyClient,
    readonly config: ProxyConfig,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** The address clients use (`host:port`). */
  get listen(): string {
    return this.config.listen;
  }

  add(toxic: Toxic): Promise<void> {
    return this.client.addToxic(this.name, toxic);
  }

  remove(toxicName: string): Promise<void> {
    return this.client.removeToxic(this.name, toxicName);
  }

  /** Refuses new connections and closes the open ones (a network cut). */
  cut(): Promise<void> {
    return this.client.setEnabled(this.name, false);
  }

  heal(): Promise<void> {
    return this.client.setEnabled(this.name, true);
  }

  delete(): Promise<void> {
    return this.client.deleteProxy(this.name);
  }
}

/** A running toxiproxy: its client, and stop() for a server this process started. */
export interface ToxiproxyServer extends ToxiproxyClient {
  stop(): Promise<void>;
}

/** Builds toxiproxy if needed (cached) and returns the path of toxiproxy-server. */
export function toxiproxyBinary(): string {
  const bin = execFileSync('bash', [join(ROOT, 'infra/toxiproxy/build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return join(bin, 'toxiproxy-server');
}

/**
 * A toxiproxy answering on TOXIPROXY_API: the one already running there, or a new server
 * (a child of this process, stopped by stop()). Idempotent.
 */
export async function ensureToxiproxy(): Promise<ToxiproxyServer> {
  const client = new ToxiproxyClient();
  let child: ChildProcess | undefined;
  const up = async () => !!(await client.version().catch(() => undefined));
  if (!(await up())) {
    const { hostname, port } = new URL(TOXIPROXY_API);
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(join(LOG_DIR, 'toxiproxy.log'), { flags: 'a' });
    child = spawn(toxiproxyBinary(), ['-host', hostname, '-port', port], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    await waitFor(up, 15_000, `toxiproxy on ${TOXIPROXY_API}`);
  }
  const started = child;
  return Object.assign(client, {
    async stop(): Promise<void> {
      if (!started || started.exitCode !== null || started.signalCode !== null) return;
      const gone = new Promise<void>((r) => started.once('exit', () => r()));
      started.kill('SIGTERM');
      await gone;
    },
  });
}
