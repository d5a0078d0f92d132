/**
 * Postgres over TLS against the real local server (infra/postgres/postgres.sh: `ssl = on` with
 * a certificate from a local CA, and the role `ringmaster_secure`, which pg_hba.conf lets in
 * over TLS only; scripts/infra.sh writes DATABASE_SECURE_* to infra.env). The config is built
 * by persistenceConfigFromEnv from the variables the planner reads (DATABASE_URL without a
 * password, DATABASE_PASSWORD_FILE, DATABASE_SSL_CA_FILE), and openDataSource runs the
 * migrations through it. The server's own view (pg_stat_ssl) says whether a session is TLS.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { requireInfraEnv } from '../../../test/support/infra-env';
import { openDataSource } from './data-source.factory';
import { persistenceConfigFromEnv, redactedPersistenceConfig } from './persistence.config';

jest.setTimeout(60_000);

const secure = requireInfraEnv(
  'DATABASE_SECURE_URL',
  'DATABASE_SECURE_PASSWORD_FILE',
  'DATABASE_SECURE_CA_FILE',
  'TEST_DATABASE_URL',
);
const schema = `it_tls_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const tmp = mkdtempSync(join(tmpdir(), 'rk-pg-tls-'));
const SSL_OF_SESSION = 'select ssl, version from pg_stat_ssl where pid = pg_backend_pid()' as const;

/** The environment the planner would get, with `over` replacing some of it. */
const env = (over: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  DATABASE_URL: secure.DATABASE_SECURE_URL,
  DATABASE_PASSWORD_FILE: secure.DATABASE_SECURE_PASSWORD_FILE,
  DATABASE_SSL_CA_FILE: secure.DATABASE_SECURE_CA_FILE,
  DATABASE_SCHEMA: schema,
  DATABASE_POOL_SIZE: '2',
  ...over,
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Postgres over TLS (CA-verified, password from a file)', () => {
  it('openDataSource connects over TLS, runs the migrations, and the server reports ssl for the session', async () => {
    const config = persistenceConfigFromEnv(env());
    const password = readFileSync(secure.DATABASE_SECURE_PASSWORD_FILE, 'utf8').trim();
    expect(config.ssl).toEqual({
      ca: readFileSync(secure.DATABASE_SECURE_CA_FILE, 'utf8'),
      rejectUnauthorized: true,
    });
    expect(JSON.stringify(redactedPersistenceConfig(config))).not.toContain(password);
    const ds = await openDataSource(config, { applicationName: 'ringmaster-int-tls' });
    try {
      expect(await ds.query(SSL_OF_SESSION)).toEqual([
        { ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) },
      ]);
      const tables = (
        (await ds.query(
          'select table_name from information_schema.tables where table_schema = $1',
          [schema],
        )) as { table_name: string }[]
      ).map((t) => t.table_name);
      expect(tables).toContain('migrations');
      expect(tables.length).toBeGreaterThan(1);
      // Every connection this process holds is TLS, not only the one that asked.
      const mine = (await ds.query(
        `select s.ssl from pg_stat_activity a join pg_stat_ssl s using (pid)
          where a.application_name = 'ringmaster-int-tls'`,
      )) as { ssl: boolean }[];
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((r) => r.ssl)).toBe(true);
    } finally {
      await ds.query(`drop schema if exists "${schema}" cascade`);
      await ds.destroy();
    }
  });

  it('the TLS-only role is refused without TLS (pg_hba.conf)', async () => {
    const config = persistenceConfigFromEnv(env({ DATABASE_SSL_CA_FILE: '' }));
    expect(config.ssl).toBe(false);
    await expect(openDataSource(config)).rejects.toThrow(
      /pg_hba\.conf rejects connection for host "127\.0\.0\.1", user "ringmaster_secure", .*no encryption/,
    );
  });

  it('a CA that did not sign the server certificate fails the TLS handshake', async () => {
    const other = join(tmp, 'other-ca');
    execFileSync('bash', [join(__dirname, '../../../infra/tls/issue-cert.sh'), other, 'other'], {
      stdio: 'ignore',
    });
    const config = persistenceConfigFromEnv(env({ DATABASE_SSL_CA_FILE: join(other, 'ca.crt') }));
    await expect(openDataSource(config)).rejects.toThrow(
      /unable to verify the first certificate|self[- ]signed certificate in certificate chain/,
    );
  });

  it('plain connections keep working for the other roles (ssl false for such a session)', async () => {
    const ds = new DataSource({ type: 'postgres', url: secure.TEST_DATABASE_URL, ssl: false });
    await ds.initialize();
    try {
      expect(await ds.query(SSL_OF_SESSION)).toEqual([{ ssl: false, version: null }]);
    } finally {
      await ds.destroy();
    }
  });
});
