/**
 * CLI of the ready stub (see ready-stub.server.ts). From the repository root:
 *
 *   eval "$(scripts/cluster.sh env)"
 *   READY_STUB_PORT=18080 READY_STUB_DELAY_MS=2000 \
 *     node -r ts-node/register/transpile-only -r tsconfig-paths/register \
 *     test/support/ready-stub/ready-stub.main.ts
 *
 * Environment: KUBECONFIG, READY_STUB_CONTEXT (default: current context), READY_STUB_PORT
 * (default 18080), READY_STUB_HOST (127.0.0.1), READY_STUB_DELAY_MS (2000),
 * READY_STUB_NAMESPACE (default: all namespaces). Stops on SIGINT/SIGTERM.
 */
import { startReadyStub } from './ready-stub.server';

function intFrom(name: string, dflt: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`ready-stub: ${name} must be a non-negative integer (got "${raw}")\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const stub = await startReadyStub({
    context: process.env.READY_STUB_CONTEXT || undefined,
    port: intFrom('READY_STUB_PORT', 18080),
    host: process.env.READY_STUB_HOST || '127.0.0.1',
    delayMs: intFrom('READY_STUB_DELAY_MS', 2000),
    namespace: process.env.READY_STUB_NAMESPACE || undefined,
    onError: (e) => process.stderr.write(`ready-stub: watch error (retrying): ${String(e)}\n`),
  });
  await stub.synced;
  process.stdout.write(
    `ready-stub: listening on ${stub.url}; RINGMASTER_READY_PROBE_URL=${stub.probeUrlTemplate}\n`,
  );
  const stop = () => {
    void stub.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`ready-stub: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
