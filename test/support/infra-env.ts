/**
 * The connection settings `scripts/infra.sh up` writes to `$RINGMASTER_STATE/infra.env`
 * (KAFKA_BROKERS, KAFKA_SECURE_*, DATABASE_URL, DATABASE_SECURE_CA_FILE, ...), for tests
 * that need more than the plain addresses. A variable set in the environment wins (npm test
 * sources the file into it). Starts nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function infraEnvFile(): string {
  return join(
    process.env.RINGMASTER_STATE ?? join(homedir(), '.local/state/ringmaster'),
    'infra.env',
  );
}

/** The file's settings overlaid with the environment's. */
export function infraEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  const file = infraEnvFile();
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
      if (m) out[m[1]] = m[2];
    }
  }
  for (const [k, v] of Object.entries(process.env)) if (k in out && v) out[k] = v;
  return out;
}

/** The named settings, or an error saying how to get them. */
export function requireInfraEnv<K extends string>(...names: K[]): Record<K, string> {
  const env = { ...infraEnv() };
  for (const n of names) if (process.env[n]) env[n] = process.env[n]!;
  const missing = names.filter((n) => !env[n]);
  if (missing.length)
    throw new Error(
      `${missing.join(', ')} not in ${infraEnvFile()} nor the environment: run 'scripts/infra.sh up' (a broker or database started by an older script needs 'infra/kafka/kafka.sh stop' / 'infra/postgres/postgres.sh stop' first)`,
    );
  return Object.fromEntries(names.map((n) => [n, env[n]])) as Record<K, string>;
}
