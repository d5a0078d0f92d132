/** Deterministic order of instances: zone, then workload name, then ordinal (numeric). */
export function ordinalOf(podName: string): number {
  const i = podName.lastIndexOf('-');
  const n = i < 0 ? NaN : Number(podName.slice(i + 1));
  return Number.isInteger(n) ? n : -1;
}

function baseOf(podName: string): string {
  const i = podName.lastIndexOf('-');
  return i < 0 || !Number.isInteger(Number(podName.slice(i + 1))) ? podName : podName.slice(0, i);
}

/**
 * podOrder({ name: 'ingester-zone-a-2', zone: 'zone-a' }, { name: 'ingester-zone-a-10', zone: 'zone-a' }) < 0
 */
export function podOrder(
  a: { name: string; zone?: string },
  b: { name: string; zone?: string },
): number {
  const za = a.zone ?? '';
  const zb = b.zone ?? '';
  if (za !== zb) return za < zb ? -1 : 1;
  const ba = baseOf(a.name);
  const bb = baseOf(b.name);
  if (ba !== bb) return ba < bb ? -1 : 1;
  return ordinalOf(a.name) - ordinalOf(b.name);
}
