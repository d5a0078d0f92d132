import type { DataSource } from 'typeorm';
import type { PersistenceConfig } from '@ringmaster/persistence';
import { connectDatabase } from './database.connector';

const config: PersistenceConfig = {
  url: 'postgres://u:p@127.0.0.1:15432/db',
  ssl: false,
  schema: 's',
  poolSize: 1,
};
const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:15432'), { code: 'ECONNREFUSED' });

describe('connectDatabase', () => {
  it('waits for a Postgres that refuses connections (restarting), then opens', async () => {
    const ds = { isInitialized: true } as unknown as DataSource;
    let calls = 0;
    const logged: string[] = [];
    const open = async () => {
      if (++calls < 3) throw refused();
      return ds;
    };
    const got = await connectDatabase(
      config,
      { applicationName: 'test' },
      { initialMs: 1, maxMs: 2, log: (m) => logged.push(m) },
      open,
    );
    expect(got).toBe(ds);
    expect(calls).toBe(3);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(
      /^connecting to Postgres: connect ECONNREFUSED .* retrying in 1 ms \(1\/30\)$/,
    );
  });

  it('a permanent error (authentication failed) ends the start at once', async () => {
    let calls = 0;
    const open = async (): Promise<DataSource> => {
      calls++;
      throw Object.assign(new Error('password authentication failed for user "u"'), {
        code: '28P01',
      });
    };
    await expect(connectDatabase(config, {}, { initialMs: 1, maxMs: 2 }, open)).rejects.toThrow(
      /password authentication failed/,
    );
    expect(calls).toBe(1);
  });

  it('gives up after the attempts it was given', async () => {
    let calls = 0;
    const open = async (): Promise<DataSource> => {
      calls++;
      throw refused();
    };
    await expect(
      connectDatabase(config, {}, { initialMs: 1, maxMs: 1, attempts: 4 }, open),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(calls).toBe(4);
  });
});
