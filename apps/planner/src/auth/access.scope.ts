/**
 * What a caller may do, as scopes: `<verb>:<cluster>/<namespace>`, verb `read` (see rollouts
 * and plans) or `roll` (also create, pause, resume, abort; implies `read`). `*` matches any
 * run of characters. The namespace is what follows the LAST `/` (a namespace is a DNS label,
 * while a cluster/context name may hold `/` and `:`, e.g. an EKS ARN).
 *
 *   allows(['roll:prod-*\/mimir'], 'roll', { cluster: 'prod-eu', namespace: 'mimir' })   -> true
 *   allows(['roll:prod-*\/mimir'], 'read', { cluster: 'prod-eu', namespace: 'mimir' })   -> true  (roll implies read)
 *   allows(['read:*\/*'],          'roll', { cluster: 'dev', namespace: 'mimir' })       -> false
 *   allows(['roll:dev/mimir-*'],   'roll', { cluster: 'dev', namespace: 'loki' })        -> false
 *   allows(['roll:arn:aws:eks:eu-west-1:1:cluster/a/mimir'], 'roll',
 *          { cluster: 'arn:aws:eks:eu-west-1:1:cluster/a', namespace: 'mimir' })        -> true
 *
 * parseScope('write:x/y') -> { ok: false, reason: 'verb must be read or roll, got "write"' }
 */
export type Verb = 'read' | 'roll';

export interface Scope {
  verb: Verb;
  cluster: RegExp;
  namespace: RegExp;
  text: string;
}

export interface Target {
  cluster: string;
  namespace: string;
}

const VERBS: readonly Verb[] = ['read', 'roll'];

function glob(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

export function parseScope(
  text: string,
): { ok: true; scope: Scope } | { ok: false; reason: string } {
  const colon = text.indexOf(':');
  const slash = text.lastIndexOf('/');
  if (colon < 0 || slash < colon)
    return { ok: false, reason: `"${text}" is not <read|roll>:<cluster>/<namespace>` };
  const verb = text.slice(0, colon);
  const cluster = text.slice(colon + 1, slash);
  const namespace = text.slice(slash + 1);
  if (!VERBS.includes(verb as Verb))
    return { ok: false, reason: `verb must be read or roll, got "${verb}"` };
  if (!cluster || !namespace)
    return { ok: false, reason: `"${text}": cluster and namespace must not be empty (use *)` };
  return {
    ok: true,
    scope: { verb: verb as Verb, cluster: glob(cluster), namespace: glob(namespace), text },
  };
}

export function allows(scopes: readonly (Scope | string)[], verb: Verb, t: Target): boolean {
  return scopes.some((s) => {
    const scope = typeof s === 'string' ? parseScopeOrThrow(s) : s;
    return (
      (scope.verb === verb || scope.verb === 'roll') &&
      scope.cluster.test(t.cluster) &&
      scope.namespace.test(t.namespace)
    );
  });
}

/** The targets `scopes` do not allow `verb` on, as `cluster/namespace` (empty: all allowed). */
export function denied(scopes: readonly (Scope | string)[], verb: Verb, ts: readonly Target[]) {
  return ts.filter((t) => !allows(scopes, verb, t)).map((t) => `${t.cluster}/${t.namespace}`);
}

function parseScopeOrThrow(text: string): Scope {
  const r = parseScope(text);
  if (!r.ok) throw new Error(r.reason);
  return r.scope;
}
