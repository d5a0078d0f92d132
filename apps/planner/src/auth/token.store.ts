/**
 * The API tokens the planner accepts, from PLANNER_TOKENS_FILE (written by `npm run token`):
 *
 *   { "tokens": [
 *       { "name": "portal",  "sha256": "<64 hex>", "scopes": ["roll:prod-*\/mimir"] },
 *       { "name": "release-train", "sha256": "<64 hex>", "scopes": ["roll:*\/*"] } ] }
 *
 * Only hashes are kept: a leaked file lets no one in. The file is re-read when it changes
 * (checked at most every `reloadMs`), so a token is added or revoked without a restart; a file
 * that fails to parse is logged and the last good set is kept (a typo must not lock everyone
 * out, nor let anyone in). At start-up a bad file fails the process, naming the field.
 */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { hashApiToken } from './api-token';
import { parseScope, type Scope } from './access.scope';

export interface Principal {
  name: string;
  scopes: Scope[];
}

const TokensFileSchema = z
  .object({
    tokens: z.array(
      z
        .object({
          name: z.string().regex(/^[\w.@-]{1,100}$/, 'letters, digits, _ . @ - (1-100)'),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex characters'),
          scopes: z.array(z.string()).min(1),
        })
        .strict(),
    ),
  })
  .strict();

export class TokenFileError extends Error {}

/** Parses the file's text into hash -> principal; throws TokenFileError naming the field. */
export function parseTokensFile(text: string, path: string): Map<string, Principal> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TokenFileError(`${path}: not JSON (${(e as Error).message})`);
  }
  const r = TokensFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new TokenFileError(`${path}: ${i.path.join('.')}: ${i.message}`);
  }
  const byHash = new Map<string, Principal>();
  const names = new Set<string>();
  r.data.tokens.forEach((t, i) => {
    if (names.has(t.name)) throw new TokenFileError(`${path}: tokens.${i}.name: "${t.name}" twice`);
    names.add(t.name);
    const scopes = t.scopes.map((s, j) => {
      const p = parseScope(s);
      if (!p.ok) throw new TokenFileError(`${path}: tokens.${i}.scopes.${j}: ${p.reason}`);
      return p.scope;
    });
    byHash.set(t.sha256, { name: t.name, scopes });
  });
  return byHash;
}

export class TokenStore {
  private byHash: Map<string, Principal>;
  private mtimeMs: number;
  private checkedAt: number;

  constructor(
    private readonly path: string,
    private readonly options: {
      reloadMs?: number;
      clock?: () => number;
      onReloadError?: (e: Error) => void;
    } = {},
  ) {
    this.mtimeMs = this.stat();
    this.byHash = parseTokensFile(readFileSync(path, 'utf8'), path);
    this.checkedAt = this.now();
  }

  get size(): number {
    return this.byHash.size;
  }

  /** The principal a bearer token stands for, or undefined. */
  authenticate(token: string): Principal | undefined {
    this.reloadIfChanged();
    // A Map lookup by hash: the comparison is on the digest, so its timing says nothing useful
    // about the token.
    return this.byHash.get(hashApiToken(token));
  }

  private reloadIfChanged(): void {
    const now = this.now();
    if (now - this.checkedAt < (this.options.reloadMs ?? 2000)) return;
    this.checkedAt = now;
    try {
      const m = this.stat();
      if (m === this.mtimeMs) return;
      this.byHash = parseTokensFile(readFileSync(this.path, 'utf8'), this.path);
      this.mtimeMs = m;
    } catch (e) {
      this.options.onReloadError?.(e as Error);
    }
  }

  private stat(): number {
    return statSync(this.path).mtimeMs;
  }

  private now(): number {
    return (this.options.clock ?? Date.now)();
  }
}

/** `Authorization: Bearer <token>` -> the token; anything else -> a reason for the 401. */
export function bearerToken(
  header: string | undefined,
): { ok: true; token: string } | { ok: false; reason: string } {
  if (header === undefined || header === '')
    return { ok: false, reason: 'authentication required: send Authorization: Bearer <token>' };
  const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header.trim());
  if (!m) return { ok: false, reason: 'Authorization: expected "Bearer <token>"' };
  return { ok: true, token: m[1] };
}
