/**
 * The demo behind `npm run demo`: one microservices rollout (restart, or `--image IMAGE`) of a
 * Mimir-shaped fixture on a local kwok cluster, through the real services, with live progress
 * and a summary judged by an independent observer (its own Kubernetes watch).
 *
 *   npm run demo [-- --image grafana/mimir:2.15.0] [--layout monolithic] [--keep]
 */
import {
  applyFixture,
  ensureBuilt,
  ensureClusters,
  ensureInfra,
  LOG_DIR,
  Stack,
} from '../test/support/stack';
import { AvailabilityObserver } from '../test/support/availability.observer';

interface ComponentView {
  component: string;
  status: string;
  restarted: number;
  total: number;
  limit?: number;
  activeZone?: string;
  zones?: { zone: string; updated: number; total: number }[];
  inFlight: { pod: string }[];
  waiting?: string;
  reason?: string;
}
interface RolloutView {
  id: string;
  status: string;
  reason?: string;
  elapsedSeconds: number;
  remainingSeconds?: number;
  targetProgress: { target: string; components: ComponentView[] }[];
}

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const layout = (arg('layout') ?? 'microservices') as 'microservices' | 'monolithic';
const image = arg('image');
const tty = process.stdout.isTTY;

function bar(done: number, total: number, width = 24): string {
  const n = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function render(v: RolloutView): string {
  const lines = [
    `rollout ${v.id}  ${v.status.toUpperCase()}  ${v.elapsedSeconds}s elapsed${v.remainingSeconds !== undefined ? `, ~${v.remainingSeconds}s left` : ''}`,
  ];
  for (const t of v.targetProgress) {
    lines.push(`  ${t.target}`);
    for (const c of t.components) {
      const now = c.inFlight.length ? ` restarting ${c.inFlight.map((f) => f.pod).join(', ')}` : '';
      const zone = c.zones
        ? ` ${c.zones.map((z) => `${z.zone} ${bar(z.updated, z.total, 4)}`).join(' ')}`
        : '';
      lines.push(
        `    ${c.component.padEnd(16)} ${bar(c.restarted, c.total)} ${String(c.restarted).padStart(3)}/${String(c.total).padEnd(3)} limit ${String(c.limit ?? '?').padEnd(3)} ${c.status}${zone}${now}${c.waiting ? ` (${c.waiting})` : ''}${c.reason ? ` (${c.reason})` : ''}`,
      );
    }
  }
  if (v.reason) lines.push(`  reason: ${v.reason}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  console.log('== bringing up Kafka, Postgres and a kwok cluster (cached after the first run)');
  const infra = ensureInfra();
  const { kubeconfig, contexts } = ensureClusters(1);
  const context = contexts[0];
  const namespace = `mimir-demo-${Date.now().toString(36)}`;
  console.log(`== applying the Mimir ${layout} fixture to ${context}/${namespace}`);
  applyFixture(kubeconfig, context, namespace, layout);
  ensureBuilt();

  const name = `demo-${Date.now().toString(36)}`;
  const stack = new Stack(
    {
      name,
      kubeconfig,
      contexts,
      namespaces: [namespace],
      plannerPort: 8080,
      readyStubPort: 18090,
    },
    infra,
  );
  const stop = async () => {
    await stack.stop();
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  console.log(`== starting planner (:8080), executor and health watcher; logs in ${LOG_DIR}`);
  if (layout === 'monolithic')
    stack.start('ready-stub', 'ready-stub', { READY_STUB_CONTEXT: context });
  stack.start('health-watcher');
  stack.start('executor', 'executor-1');
  stack.start('planner');
  await stack.waitReady();

  const observer = new AvailabilityObserver(kubeconfig, context, namespace);
  await observer.start();
  const body = {
    targets: [{ cluster: context, namespace }],
    change: image ? { kind: 'image', image } : { kind: 'restart' },
  };
  let res = await stack.api<{ id: string; problems?: string[]; plan?: { etaSeconds: number } }>(
    '/v1/rollouts',
    { body },
  );
  // The watcher's first observations may still be on their way: unknown target -> retry briefly.
  for (let i = 0; res.status === 422 && i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    res = await stack.api('/v1/rollouts', { body });
  }
  if (res.status !== 201)
    throw new Error(`POST /v1/rollouts answered ${res.status}: ${JSON.stringify(res.body)}`);
  const id = res.body.id;
  console.log(`== rollout ${id} created over REST; plan ETA ${res.body.plan?.etaSeconds}s\n`);

  const t0 = Date.now();
  let v: RolloutView;
  let printed = 0;
  for (;;) {
    v = (await stack.api<RolloutView>(`/v1/rollouts/${id}`)).body;
    const text = render(v);
    if (tty && printed) process.stdout.write(`\x1b[${printed}A\x1b[J`);
    if (
      tty ||
      Date.now() - t0 < 500 ||
      ['succeeded', 'blocked', 'failed', 'aborted'].includes(v.status) ||
      Math.floor((Date.now() - t0) / 5000) !== Math.floor((Date.now() - t0 - 500) / 5000)
    ) {
      process.stdout.write(`${text}\n`);
      printed = text.split('\n').length;
    }
    if (['succeeded', 'blocked', 'failed', 'aborted'].includes(v.status)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  // Let the observer see the last pods settle.
  await new Promise((r) => setTimeout(r, 1500));
  const report = observer.stop();
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  const maxes = Object.entries(report.maxUnavailable)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([c, n]) => `${c}=${n}`)
    .join(',');
  if (!args.includes('--keep')) await stop();
  else
    console.log(
      `planner: ${stack.plannerUrl} (curl -H 'Authorization: Bearer ${stack.token}' ${stack.plannerUrl}/v1/rollouts)`,
    );
  console.log(
    `\nrollout ${id} ${v.status} in ${seconds}s; max unavailable per component: ${maxes}; violations=${report.violations.length}`,
  );
  if (report.violations.length) console.log(JSON.stringify(report.violations, null, 2));
  console.log(
    '(Kafka, Postgres and the cluster stay up for exploring: scripts/infra.sh down; scripts/cluster.sh down)',
  );
  process.exit(v.status === 'succeeded' && report.violations.length === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
