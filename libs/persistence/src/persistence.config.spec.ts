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

  it('reads the password from DATABASE_PASSWORD_FILE into the URL, never into the log', () => {
    const file = join(tmpdir(), `rm-pw-${process.pid}`);
    writeFileSync(file, 'p@ss:w/rd%41\n');
    const config = persistenceConfigFromEnv({
      DATABASE_URL: 'postgres://rm@db:5432/ringmaster',
      DATABASE_PASSWORD_FILE: file,
    });
    expect(config.url).toBe('postgres://rm:p%40ss%3Aw%2Frd%2541@db:5432/ringmaster');
    expect(decodeURIComponent(new URL(config.url).password)).toBe('p@ss:w/rd%41');
    expect(JSON.stringify(redactedPersistenceConfig(config))).toContain('rm:***@db:5432');
    const refused = (env: NodeJS.ProcessEnv) => () => persistenceConfigFromEnv(env);
    expect(refused({ DATABASE_URL: URL_OK, DATABASE_PASSWORD_FILE: file })).toThrow(
      /^DATABASE_PASSWORD_FILE: is set but DATABASE_URL has a password too/,
    );
    expect(refused({ DATABASE_URL: 'postgres://db/x', DATABASE_PASSWORD_FILE: file })).toThrow(
      /^DATABASE_URL: names no user/,
    );
    expect(
      refused({ DATABASE_URL: 'postgres://rm@db/x', DATABASE_PASSWORD_FILE: '/nonexistent/pw' }),
    ).toThrow('DATABASE_PASSWORD_FILE: cannot read /nonexistent/pw: ENOENT');
    writeFileSync(file, '\n');
    expect(refused({ DATABASE_URL: 'postgres://rm@db/x', DATABASE_PASSWORD_FILE: file })).toThrow(
      'DATABASE_PASSWORD_FILE: the file is empty',
    );
  });

  it('never shows the password when logged', () => {
    const shown = JSON.stringify(
      redactedPersistenceConfig(persistenceConfigFromEnv({ DATABASE_URL: URL_OK })),
    );
    expect(shown).not.toContain('s3cret');
    expect(shown).toContain('ringmaster:***@db:5432');
  });
});
