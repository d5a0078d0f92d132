/**
 * npm run token -- <command>: manage the planner's API tokens file (PLANNER_TOKENS_FILE).
 *
 *   npm run -s token -- add --name portal --scope 'roll:prod-*\/mimir' [--scope ...] [--file F]
 *       prints the new token once (only its SHA-256 is written); replaces a token of that name
 *   npm run -s token -- revoke --name portal [--file F]
 *   npm run -s token -- list [--file F]
 *
 * The file is written atomically with mode 600; a running planner picks up changes within
 * seconds. --file defaults to $PLANNER_TOKENS_FILE.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { hashApiToken, newApiToken } from '../apps/planner/src/auth/api-token';
import { parseScope } from '../apps/planner/src/auth/access.scope';
import { parseTokensFile } from '../apps/planner/src/auth/token.store';

interface Entry {
  name: string;
  sha256: string;
  scopes: string[];
}

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n`);
  process.exit(2);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    file: { type: 'string', default: process.env.PLANNER_TOKENS_FILE },
    name: { type: 'string' },
    scope: { type: 'string', multiple: true, default: [] },
  },
});
const [command] = positionals;
const file = values.file ?? fail('--file (or PLANNER_TOKENS_FILE) is required');

function load(): Entry[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  try {
    parseTokensFile(text, file);
  } catch (e) {
    fail((e as Error).message);
  }
  return (JSON.parse(text) as { tokens: Entry[] }).tokens;
}

function save(tokens: Entry[]): void {
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ tokens }, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

const name = () => values.name ?? fail('--name is required');

switch (command) {
  case 'add': {
    const scopes = values.scope ?? [];
    if (scopes.length === 0) fail('at least one --scope <read|roll>:<cluster>/<namespace>');
    for (const s of scopes) {
      const p = parseScope(s);
      if (!p.ok) fail(`--scope ${p.reason}`);
    }
    const token = newApiToken();
    const n = name();
    save([...load().filter((t) => t.name !== n), { name: n, sha256: hashApiToken(token), scopes }]);
    process.stdout.write(`${token}\n`);
    break;
  }
  case 'revoke': {
    const n = name();
    const before = load();
    if (!before.some((t) => t.name === n)) fail(`no token named "${n}" in ${file}`);
    save(before.filter((t) => t.name !== n));
    break;
  }
  case 'list':
    for (const t of load()) process.stdout.write(`${t.name}\t${t.scopes.join(' ')}\n`);
    break;
  default:
    fail('usage: token add|revoke|list --file F [--name N] [--scope S ...]');
}
