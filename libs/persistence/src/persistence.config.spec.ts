import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PersistenceConfigError,
  persistenceConfigFromEnv,
  redactedPersistenceConfig,
} from './persistence.config';

const URL_OK = 'postgres://ringmaster:s3cret@db:5432/ringmaster';

describe('persistenceConfigFromEnv', () => {
  it('reads the defaults', () => {
    expect(persistenceConfigFromEnv({ DATABASE_URL: URL_OK })).toEqual({
      url: URL_OK,
      ssl: false,
      schema: undefined,
      poolSize: 10,
    });
  });

  it('reads TLS with a CA file', () => {
    const ca = join(tmpdir(), `rm-ca-${process.pid}.pem`);
    writeFileSync(ca, 'PEM');
    expect(
      persistenceConfigFromEnv({
        DATABASE_URL: URL_OK,
        DATABASE_SSL: 'true',
        DATABASE_SSL_CA_FILE: ca,
      }).ssl,
    ).toEqual({
      ca: 'PEM',
      rejectUnauthorized: true,
    });
    expect(persistenceConfigFromEnv({ DATABASE_URL: URL_OK, DATABASE_SSL: 'true' }).ssl).toEqual({
      rejectUnauthorized: true,
    });
  });

  // [case, env, variable named in the error]
  const refusals: [string, NodeJS.ProcessEnv, string][] = [
    ['no URL', {}, 'DATABASE_URL'],
    ['not a URL', { DATABASE_URL: 'db:5432' }, 'DATABASE_URL'],
    ['wrong scheme', { DATABASE_URL: 'mysql://a@b/c' }, 'DATABASE_URL'],
    ['SSL not a boolean', { DATABASE_URL: URL_OK, DATABASE_SSL: 'yes please' }, 'DATABASE_SSL'],
    [
      'CA without SSL',
      { DATABASE_URL: URL_OK, DATABASE_SSL: 'false', DATABASE_SSL_CA_FILE: '/ca.pem' },
      'DATABASE_SSL_CA_FILE',
    ],
    [
      'CA missing',
      { DATABASE_URL: URL_OK, DATABASE_SSL_CA_FILE: '/nonexistent/ca.pem' },
      'DATABASE_SSL_CA_FILE',
    ],
    [
      'schema with a quote',
      { DATABASE_URL: URL_OK, DATABASE_SCHEMA: 'a"; drop' },
      'DATABASE_SCHEMA',
    ],
    ['pool of 0', { DATABASE_URL: URL_OK, DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
  ];
  it.each(refusals)('refuses %s, naming the variable', (_case, env, variable) => {
    expect(() => persistenceConfigFromEnv(env)).toThrow(PersistenceConfigError);
    expect(() => persistenceConfigFromEnv(env)).toThrow(new RegExp(`^${variable}: `));
  });

  it('never shows the password when logged', () => {
    const shown = JSON.stringify(
      redactedPersistenceConfig(persistenceConfigFromEnv({ DATABASE_URL: URL_OK })),
    );
    expect(shown).not.toContain('s3cret');
    expect(shown).toContain('ringmaster:***@db:5432');
  });
});
