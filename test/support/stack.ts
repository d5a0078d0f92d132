/**
 * The real stack for e2e tests and the demo: Kafka and Postgres (scripts/infra.sh), kwok
 * clusters with the Mimir fixture (scripts/cluster.sh + render.mjs), and the three services
 * as separate processes (built to dist/), each run isolated by a topic prefix, a database
 * schema and its own namespaces.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataSource } from 'typeorm';
import { createKafka, kafkaConfigFromEnv } from '@ringmaster/messaging';
import { hashApiToken, newApiToken } from '../../apps/planner/src/auth/api-token';

export const ROOT = resolve(__dirname, '../..');
const STATE = process.env.RINGMASTER_STATE ?? join(homedir(), '.local/state/ringmaster');
const CLUSTER_STATE =
  process.env.RINGMASTER_STATE_DIR ??
  join(process.env.RINGMASTER_CACHE ?? join(homedir(), '.cache/ringmaster'), 'clusters');
export const LOG_DIR = join(ROOT, '.ringmaster', 'logs');

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Kafka and Postgres up (idempotent); their addresses. */
export function ensureInfra(): { KAFKA_BROKERS: string; DATABASE_URL: string } {
  sh('bash', ['scripts/infra.sh', 'up']);
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(STATE, 'infra.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return {
    KAFKA_BROKERS: env.KAFKA_BROKERS,
    DATABASE_URL: env.TEST_DATABASE_URL ?? env.DATABASE_URL,
  };
}

/** N kwok clusters up (idempotent). Returns the merged kubeconfig and the context names. */
export function ensureClusters(n: number): { kubeconfig: string; contexts: string[] } {
  sh('bash', ['scripts/cluster.sh', 'up', '--clusters', String(n), '--fixture', 'none']);
  const contexts = Array.from(
    { length: n },
    (_, i) => `kwok-${process.env.RINGMASTER_CLUSTER_PREFIX ?? 'ringmaster'}-${i + 1}`,
  );
  return { kubeconfig: join(CLUSTER_STATE, 'kubeconfig.yaml'), contexts };
}

/**
 * Applies the Mimir fixture into `namespace` of a cluster and (unless `wait` is false) waits
 * for every pod to be Ready. Faults (`WORKLOAD=never-ready`) act only on pods created after
 * they are applied: apply the fixture first, then again with the faults and `wait: false`.
 */
export function applyFixture(
  kubeconfig: string,
  context: string,
  namespace: string,
  layout: 'microservices' | 'monolithic',
  faults: string[] = [],
  { wait = true }: { wait?: boolean } = {},
): void {
  const manifest = sh('node', [
    'test/fixtures/mimir/render.mjs',
    '--layout',
    layout,
    '--size',
    'small',
    '--namespace',
    namespace,
    ...faults.flatMap((f) => ['--fault', f]),
  ]);
  execFileSync('kubectl', ['--kubeconfig', kubeconfig, '--context', context, 'apply', '-f', '-'], {
    input: manifest,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  if (wait) waitAllReady(kubeconfig, context, namespace);
}

export function waitAllReady(
  kubeconfig: string,
  context: string,
  namespace: string,
  timeoutS = 120,
): void {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const out = execFileSync(
      'kubectl',
      [
        '--kubeconfig',
        kubeconfig,
        '--context',
        context,
        '-n',
        namespace,
        'get',
        'pods',
        '-o',
        'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ],
      { encoding: 'utf8' },
    );
    const lines = out.split('\n').filter(Boolean);
    if (lines.length > 0 && lines.every((l) => l === 'True')) return;
    if (Date.now() > deadline)
      throw new Error(`pods in ${context}/${namespace} not all Ready after ${timeoutS}s`);
    execFileSync('sleep', ['1']);
  }
}

export function deleteNamespace(kubeconfig: string, context: string, namespace: string): void {
  try {
    execFileSync(
      'kubectl',
      [
        '--kubeconfig',
        kubeconfig,
        '--context',
        context,
        'delete',
        'namespace',
        namespace,
        '--wait=false',
      ],
      { stdio: 'ignore' },
    );
  } catch {
    /* already gone */
  }
}

/** Compiles the services unless dist/ is newer than every source file. */
export function ensureBuilt(): void {
  const main = join(ROOT, 'dist/apps/planner/src/main.js');
  const newest = Number(
    sh('bash', [
      '-c',
      "find apps libs -name '*.ts' -newer dist/apps/planner/src/main.js 2>/dev/null | head -1 | wc -l",
    ]).trim(),
  );
  if (existsSync(main) && newest === 0 && statSync(main).size > 0) return;
  sh('npm', ['run', '-s', 'build']);
}

export type Service = 'planner' | 'executor' | 'health-watcher' | 'ready-stub';

export interface StackOptions {
  /** Isolation: topic prefix, database schema, consumer groups, log file names. */
  name: string;
  kubeconfig: string;
  contexts: string[];
  /** Namespaces the watcher watches in every cluster. */
  namespaces: string[];
  plannerPort: number;
  readyStubPort?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * API tokens besides the stack's own (`stack.token`, scope `roll:*\/*`): name -> scopes.
   * Their plaintext is in `stack.tokens[name]`.
   */
  tokens?: Record<string, string[]>;
}

export class Stack {
  private readonly procs = new Map<string, ChildProcess>();
  readonly base: NodeJS.ProcessEnv;
  /** Plaintext API tokens by name; `admin` may roll and read everything. */
  readonly tokens: Record<string, string> = {};

  constructor(
    readonly opts: StackOptions,
    infra: { KAFKA_BROKERS: string; DATABASE_URL: string },
  ) {
    mkdirSync(LOG_DIR, { recursive: true });
    const schema = opts.name.replace(/[^a-z0-9_]/g, '_');
    // The planner keeps only hashes (PLANNER_TOKENS_FILE); the plaintext stays in this process.
    const scopes: Record<string, string[]> = { admin: ['roll:*/*'], ...opts.tokens };
    const entries = Object.entries(scopes).map(([name, s]) => {
      this.tokens[name] = newApiToken();
      return { name, sha256: hashApiToken(this.tokens[name]), scopes: s };
    });
    const tokensFile = join(LOG_DIR, `${opts.name}-tokens.json`);
    writeFileSync(tokensFile, JSON.stringify({ tokens: entries }, null, 2), { mode: 0o600 });
    this.base = {
      KAFKA_BROKERS: infra.KAFKA_BROKERS,
      KAFKA_TOPIC_PREFIX: `${opts.name}.`,
      DATABASE_URL: infra.DATABASE_URL,
      DATABASE_SCHEMA: schema,
      KUBECONFIG: opts.kubeconfig,
      RINGMASTER_CONTEXTS: opts.contexts.join(','),
      RINGMASTER_NAMESPACES: opts.namespaces.join(','),
      PLANNER_GROUP_ID: `${opts.name}-planner`,
      PLANNER_TOKENS_FILE: tokensFile,
      EXECUTOR_GROUP_ID: `${opts.name}-executor`,
      ...(opts.readyStubPort
        ? {
            RINGMASTER_READY_PROBE_URL: `http://127.0.0.1:${opts.readyStubPort}/ready/{namespace}/{pod}`,
          }
        : {}),
      NO_COLOR: '1',
      ...opts.env,
    };
  }

  /** The admin token (scope `roll:*\/*`), sent by api() unless a request sets `authorization`. */
  get token(): string {
    return this.tokens.admin;
  }

  get plannerUrl(): string {
    return `http://127.0.0.1:${this.opts.plannerPort}`;
  }

  /** Starts a service as its own process; `id` tells instances apart (executor-1, executor-2). */
  start(service: Service, id: string = service, env: NodeJS.ProcessEnv = {}): ChildProcess {
    const entry =
      service === 'ready-stub'
        ? [
            '-r',
            'ts-node/register/transpile-only',
            '-r',
            'tsconfig-paths/register',
            'test/support/ready-stub/ready-stub.main.ts',
          ]
        : [`dist/apps/${service}/src/main.js`];
    const port =
      service === 'planner'
        ? this.opts.plannerPort
        : service === 'ready-stub'
          ? this.opts.readyStubPort
          : 0;
    const log = createWriteStream(join(LOG_DIR, `${this.opts.name}-${id}.log`), { flags: 'a' });
    const child = spawn(process.execPath, entry, {
      cwd: ROOT,
      env: {
        ...process.env,
        ...this.base,
        PORT: String(port ?? 0),
        EXECUTOR_ID: id,
        PLANNER_ID: id,
        READY_STUB_PORT: String(this.opts.readyStubPort ?? ''),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Both streams into one file, closed once the process is gone: with the default
    // `end: true` the first stream to end closed the file and the other's last lines threw
    // 'write after end' in the test process (seen when a noisy planner was killed).
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
    this.procs.set(id, child);
    return child;
  }

  /** SIGKILL (a crash) or SIGTERM (a clean stop); resolves when the process is gone. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.procs.get(id);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await gone;
    this.procs.delete(id);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id, 'SIGTERM')));
  }

  /**
   * stop(), then removes what the run left in Kafka and Postgres: its prefixed topics, its
   * consumer groups and its schema. Left behind, every test run added ~50 topics (300
   * partitions) that the broker loads again at each start (6,000 partition directories after
   * a few days of runs on one machine). Best effort: a failure is logged, never thrown.
   */
  async dispose(): Promise<void> {
    await this.stop();
    const { name } = this.opts;
    const kafka = createKafka(
      kafkaConfigFromEnv(
        { KAFKA_BROKERS: this.base.KAFKA_BROKERS, KAFKA_LOG_LEVEL: 'nothing' },
        { clientId: `${name}-cleanup` },
      ),
    );
    const admin = kafka.admin();
    const db = new DataSource({ type: 'postgres', url: this.base.DATABASE_URL, poolSize: 1 });
    try {
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`));
      if (topics.length) await admin.deleteTopics({ topics });
      const groups = (await admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((g) => g.startsWith(`${name}-`));
      if (groups.length) await admin.deleteGroups(groups);
      await db.initialize();
      await db.query(`DROP SCHEMA IF EXISTS "${this.base.DATABASE_SCHEMA}" CASCADE`);
    } catch (e) {
      console.warn(`stack ${name}: could not remove its topics, groups or schema: ${String(e)}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
      if (db.isInitialized) await db.destroy().catch(() => undefined);
    }
  }

  /** Sends `signal` and returns: SIGSTOP freezes a service mid-call, SIGCONT lets it go on. */
  signal(id: string, signal: NodeJS.Signals): void {
    this.procs.get(id)?.kill(signal);
  }

  /**
   * Services started and not killed through kill() that are no longer running (a crash):
   * id -> exit code or signal. Empty while every service is up.
   */
  exited(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [id, p] of this.procs)
      if (p.exitCode !== null || p.signalCode !== null)
        out[id] = String(p.exitCode ?? p.signalCode);
    return out;
  }

  /** Ids of the services started and not killed through kill(). */
  services(): string[] {
    return [...this.procs.keys()];
  }

  async waitReady(timeoutMs = 90_000): Promise<void> {
    await waitFor(
      async () => (await fetch(`${this.plannerUrl}/readyz`).catch(() => undefined))?.status === 200,
      timeoutMs,
      'planner /readyz',
    );
  }

  async api<T = unknown>(
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${this.plannerUrl}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${this.token}`,
        ...init.headers,
      },
      body:
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? init.body
            : JSON.stringify(init.body),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : undefined) as T,
      headers: res.headers,
    };
  }

  /** Polls GET /v1/rollouts/{id} until `done` says so (or throws with the last body). */
  async waitRollout<T extends { status: string }>(
    id: string,
    done: (r: T) => boolean,
    timeoutMs = 180_000,
  ): Promise<T> {
    let last: T | undefined;
    await waitFor(
      async () => {
        last = (await this.api<T>(`/v1/rollouts/${id}`)).body;
        return done(last);
      },
      timeoutMs,
      `rollout ${id}`,
      () => JSON.stringify(last)?.slice(0, 2000),
    );
    return last!;
  }
}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  detail?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** A name unique to this run, usable as topic prefix, schema and namespace suffix. */
export function runName(base: string): string {
  return `${base}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
