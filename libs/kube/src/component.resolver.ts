/**
 * Which Mimir component a workload (or a pod of it) belongs to, and small helpers the mappers
 * share. Pure.
 *
 * Order, first match wins (the chart sets all of the labels; other layouts may set few):
 *   1. the caller's override map, keyed by workload name   { 'mimir-backend': 'store-gateway' }
 *   2. annotation `ringmaster.dev/component`                (on the object)
 *   3. label `rollout-group`                                 `ingester` for ingester-zone-a/b/c
 *   4. label `app.kubernetes.io/component`                  `querier`, `all` (monolithic)
 *   5. label `name`                                          jsonnet layouts: `ingester-zone-a`
 *   6. the workload name itself
 *
 * rollout-group comes before app.kubernetes.io/component because it is the key that groups
 * zoned StatefulSets in rollout-operator's own model; in the chart both carry the same value.
 */
import {
  ANNOTATION_COMPONENT_OVERRIDE,
  LABEL_COMPONENT,
  LABEL_NAME,
  LABEL_ROLLOUT_GROUP,
} from '@ringmaster/contracts';

export type StringMap = Record<string, string> | undefined;

/** workload name -> component, for layouts whose labels say nothing useful. */
export type ComponentOverrides = Readonly<Record<string, string>>;

export function resolveComponent(
  workload: string,
  labels: StringMap,
  annotations: StringMap,
  overrides: ComponentOverrides = {},
): string {
  return (
    nonEmpty(overrides[workload]) ??
    nonEmpty(annotations?.[ANNOTATION_COMPONENT_OVERRIDE]) ??
    nonEmpty(labels?.[LABEL_ROLLOUT_GROUP]) ??
    nonEmpty(labels?.[LABEL_COMPONENT]) ??
    nonEmpty(labels?.[LABEL_NAME]) ??
    workload
  );
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/**
 * Epoch ms of a Kubernetes timestamp. Objects from the typed list calls carry `Date`s; objects
 * from a watch stream are plain JSON with RFC 3339 strings. Both are accepted.
 */
export function toEpochMs(t: Date | string | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * A positive integer annotation (`"3"`), or a percentage of `of` (`"25%"` -> floor, at least 1).
 * Anything else is undefined: a malformed annotation must not become a limit.
 *
 *   parseCount('3') === 3; parseCount('25%', 10) === 2; parseCount('5%', 10) === 1
 *   parseCount('0') === undefined; parseCount('x') === undefined; parseCount('50%') === undefined
 */
export function parseCount(value: string | undefined, of?: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^[1-9][0-9]*$/.test(v)) return Number(v);
  const pct = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(v);
  if (pct && of !== undefined && Number(pct[1]) > 0)
    return Math.max(1, Math.floor((of * Number(pct[1])) / 100));
  return undefined;
}
