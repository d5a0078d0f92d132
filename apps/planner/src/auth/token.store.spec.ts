import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashApiToken, newApiToken } from './api-token';
import { AccessError, authorizeEvent } from './access.guard';
import { bearerToken, parseTokensFile, TokenStore } from './token.store';

const file = (tokens: unknown) => JSON.stringify({ tokens });
const entry = (name: string, token: string, scopes = ['roll:*/*']) => ({
  name,
  sha256: hashApiToken(token),
  scopes,
});

describe('API tokens', () => {
  it('are random, prefixed, and kept as a 64-hex SHA-256', () => {
    const a = newApiToken();
    expect(a).toMatch(/^rm_[A-Za-z0-9_-]{43}$/);
    expect(newApiToken()).not.toBe(a);
    expect(hashApiToken('rm_example')).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['not json', '/t.json: not JSON'],
    [
      file([{ name: 'a', sha256: 'xyz', scopes: ['roll:*/*'] }]),
      'tokens.0.sha256: 64 lowercase hex',
    ],
    [file([{ name: 'a b', sha256: 'a'.repeat(64), scopes: ['roll:*/*'] }]), 'tokens.0.name'],
    [file([{ name: 'a', sha256: 'a'.repeat(64), scopes: [] }]), 'tokens.0.scopes'],
    [
      file([{ name: 'a', sha256: 'a'.repeat(64), scopes: ['push:*/*'] }]),
      'tokens.0.scopes.0: verb',
    ],
    [file([entry('a', 'x'), { ...entry('a', 'y') }]), 'tokens.1.name: "a" twice'],
    [JSON.stringify({ tokens: [], extra: 1 }), "Unrecognized key(s) in object: 'extra'"],
  ])('a bad file is refused naming the field (%#)', (text, expected) => {
    expect(() => parseTokensFile(text, '/t.json')).toThrow(expected);
  });

  it('authenticates by hash and re-reads the file when it changes, keeping the last good one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokens-'));
    const path = join(dir, 'tokens.json');
    writeFileSync(path, file([entry('portal', 'rm_one', ['read:*/*'])]));
    let now = 0;
    const errors: string[] = [];
    const store = new TokenStore(path, {
      reloadMs: 10,
      clock: () => now,
      onReloadError: (e) => errors.push(e.message),
    });
    expect(store.authenticate('rm_one')?.name).toBe('portal');
    expect(store.authenticate('rm_two')).toBeUndefined();

    writeFileSync(path, file([entry('ci', 'rm_two')]));
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(store.authenticate('rm_two')).toBeUndefined(); // not yet re-checked
    now = 11;
    expect(store.authenticate('rm_two')?.name).toBe('ci');
    expect(store.authenticate('rm_one')).toBeUndefined(); // revoked

    writeFileSync(path, '{ broken');
    utimesSync(path, new Date(), new Date(Date.now() + 10000));
    now = 22;
    expect(store.authenticate('rm_two')?.name).toBe('ci');
    expect(errors[0]).toContain('not JSON');
  });

  it.each([
    [undefined, false],
    ['', false],
    ['Basic abc', false],
    ['Bearer', false],
    ['Bearer rm_x', true],
    ['bearer rm_x', true],
  ])('bearerToken(%j) ok=%s', (header, ok) => {
    expect(bearerToken(header).ok).toBe(ok);
  });
});

describe('authorizeEvent (the doc comment examples)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokens-'));
  const path = join(dir, 'tokens.json');
  writeFileSync(path, file([entry('ci', 'rm_ci', ['roll:dev/*'])]));
  const store = new TokenStore(path);
  const dev = [{ cluster: 'dev', namespace: 'mimir' }];

  const reason = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return `${(e as AccessError).status} ${(e as Error).message}`;
    }
    return 'allowed';
  };

  it.each([
    [undefined, 'ci', dev, '401 no authorization header'],
    ['Bearer rm_nope', 'ci', dev, '401 unknown or revoked token'],
    ['Bearer rm_ci', 'release', dev, '403 producer "release" sent a token of "ci"'],
    [
      'Bearer rm_ci',
      'ci',
      [{ cluster: 'prod', namespace: 'mimir' }],
      '403 "ci" may not roll prod/mimir (its scopes: roll:dev/*)',
    ],
    ['Bearer rm_ci', 'ci', dev, 'allowed'],
  ])('%j from %j', (header, producer, targets, expected) => {
    expect(reason(() => authorizeEvent(store, header, producer, 'roll', targets))).toContain(
      expected,
    );
  });
});
