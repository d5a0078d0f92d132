/**
 * Database settings, read once at startup from the environment and validated there, so a wrong
 * setting stops the service with the variable's name instead of failing on first use.
 *
 *   DATABASE_URL          postgres://user:password@host:port/db (required)
 *   DATABASE_PASSWORD_FILE a file holding the password (a mounted Secret), instead of the one
 *                         in DATABASE_URL (which then names only the user)
 *   DATABASE_SSL          true|false (default false; true when DATABASE_SSL_CA_FILE is set)
 *   DATABASE_SSL_CA_FILE  PEM file of the CA that signed the server certificate
 *   DATABASE_SCHEMA       schema for Ringmaster's tables (default: the server's, usually public).
 *                         Created if missing. Lets several instances or test runs share a db.
 *   DATABASE_POOL_SIZE    connections per process (default 10)
 */
import { readFileSync } from 'node:fs';

export interface PersistenceConfig {
  url: string;
  /** false, or TLS options for pg (the CA's PEM when a file was given). */
  ssl: false | { ca?: string; rejectUnauthorized: true };
  schema?: string;
  poolSize: number;
}

/** A setting is missing or wrong; `variable` names it. */
export class PersistenceConfigError extends Error {
  readonly retriable = false;
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'PersistenceConfigError';
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function persistenceConfigFromEnv(env: NodeJS.ProcessEnv = process.env): PersistenceConfig {
  const url = env.DATABASE_URL?.trim();
  if (!url)
    throw new PersistenceConfigError(
      'DATABASE_URL',
      'required (postgres://user:password@host:port/db)',
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PersistenceConfigError(
      'DATABASE_URL',
      'not a URL (expected postgres://user:password@host:port/db)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new PersistenceConfigError(
      'DATABASE_URL',
      `scheme must be postgres:// (got ${parsed.protocol}//)`,
    );
  }

  const passwordFile = env.DATABASE_PASSWORD_FILE?.trim();
  if (passwordFile) {
    if (parsed.password)
      throw new PersistenceConfigError(
        'DATABASE_PASSWORD_FILE',
        'is set but DATABASE_URL has a password too; keep one',
      );
    if (!parsed.username)
      throw new PersistenceConfigError('DATABASE_URL', 'names no user for DATABASE_PASSWORD_FILE');
    let secret: string;
    try {
      // A trailing newline is an artifact of how the file was written, not part of the secret.
      secret = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new PersistenceConfigError(
        'DATABASE_PASSWORD_FILE',
        `cannot read ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    if (!secret) throw new PersistenceConfigError('DATABASE_PASSWORD_FILE', 'the file is empty');
    parsed.password = encodeURIComponent(secret);
  }
  const connectUrl = passwordFile ? parsed.toString() : url;

  const caFile = env.DATABASE_SSL_CA_FILE?.trim();
  const sslFlag = parseBool('DATABASE_SSL', env.DATABASE_SSL);
  if (sslFlag === false && caFile) {
    throw new PersistenceConfigError('DATABASE_SSL_CA_FILE', 'is set but DATABASE_SSL=false');
  }
  let ssl: PersistenceConfig['ssl'] = false;
  if (sslFlag || caFile) {
    ssl = { rejectUnauthorized: true };
    if (caFile) {
      try {
        ssl.ca = readFileSync(caFile, 'utf8');
      } catch (e) {
        throw new PersistenceConfigError(
          'DATABASE_SSL_CA_FILE',
          `cannot read ${caFile}: ${(e as Error).message}`,
        );
      }
    }
  }

  const schema = env.DATABASE_SCHEMA?.trim() || undefined;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new PersistenceConfigError(
      'DATABASE_SCHEMA',
      'must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63)',
    );
  }

  const poolRaw = env.DATABASE_POOL_SIZE?.trim();
  const poolSize = poolRaw ? Number(poolRaw) : 10;
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 100) {
    throw new PersistenceConfigError(
      'DATABASE_POOL_SIZE',
      `must be an integer from 1 to 100 (got ${poolRaw})`,
    );
  }
  return { url: connectUrl, ssl, schema, poolSize };
}

/** The config as it may be logged: the password in the URL masked, the CA shown by size only. */
export function redactedPersistenceConfig(config: PersistenceConfig): Record<string, unknown> {
  return {
    url: redactUrl(config.url),
    ssl:
      config.ssl === false
        ? false
        : {
            rejectUnauthorized: true,
            ca: config.ssl.ca ? `<${config.ssl.ca.length} chars>` : undefined,
          },
    schema: config.schema,
    poolSize: config.poolSize,
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

function parseBool(variable: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new PersistenceConfigError(variable, `must be true or false (got ${value})`);
}
