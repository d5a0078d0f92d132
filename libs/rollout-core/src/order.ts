/** Deterministic order of instances: zone, then workload name, then ordinal (numeric). */
export function ordinalOf(podName: string): number {
  const m = /-(\d+)$/.exec(podName);
  return m ? Number(m[1]) : -1;
}

export function podOrder(a: { name: string; zone?: string }, b: { name: string; zone?: string }): number {
  const za = a.zone ?? '';
  const zb = b.zone ?? '';
  if (za !== zb) return za < zb ? -1 : 1;
  const ba = a.name.replace(/-\d+$/, '');
  const bb = b.name.replace(/-\d+$/, '');
  if (ba !== bb) return ba < bb ? -1 : 1;
  return ordinalOf(a.name) - ordinalOf(b.name);
}
