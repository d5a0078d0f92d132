/**
 * Cluster lists as configured (`RINGMASTER_CONTEXTS=kwok-ringmaster-1,eu-1=gke_acme_eu_prod`).
 * Pure, so the config validation of every service can use it without loading the client.
 *
 *   parseContextList(' a, b=ctx-b ,')            -> ['a', 'b=ctx-b']
 *   parseContextEntry('b=ctx-b')                 -> { name: 'b', context: 'ctx-b' }
 *   parseContextEntry('ctx-c', { 'ctx-c': 'c' }) -> { name: 'c', context: 'ctx-c' }
 *   parseContextEntry('ctx-d')                   -> { name: 'ctx-d', context: 'ctx-d' }
 */
/** Parses `RINGMASTER_CONTEXTS`-style lists: `a, b=ctx-b` -> ['a', 'b=ctx-b']. */
export function parseContextList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `name=context` -> { name, context }; `context` -> { name: names[context] ?? context, context }. */
export function parseContextEntry(
  entry: string,
  names: Record<string, string> = {},
): { name: string; context: string } {
  const i = entry.indexOf('=');
  if (i > 0) return { name: entry.slice(0, i).trim(), context: entry.slice(i + 1).trim() };
  return { name: names[entry] ?? entry, context: entry };
}
