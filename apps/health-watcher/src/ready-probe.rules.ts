/**
 * Which pods get `GET /ready`, at which URL, and what an answer means. Pure.
 *
 * Why probe at all: a pod's Ready condition comes from the kubelet's readiness probe, which
 * may be looser than Mimir's own `/ready` (or absent), and for a monolithic instance `/ready`
 * is the only sign that every module, ring membership included, is up. The rollout core gates
 * the next monolithic restart on `probe === 'ok'` (DESIGN.md, policy table).
 *
 * Which pods: RINGMASTER_PROBE_COMPONENTS when set; otherwise pods annotated
 * `ringmaster.dev/ready-probe` and pods of a monolithic component (`all`, `monolithic`, `mimir`).
 *
 * URL: the template with {podIP} {namespace} {pod} {cluster} filled in, e.g.
 *   renderProbeUrl('http://{podIP}:8080/ready', { podIP: '10.0.0.7', ... })
 *     -> 'http://10.0.0.7:8080/ready'
 *   renderProbeUrl('http://127.0.0.1:18080/ready/{namespace}/{pod}', { namespace: 'm', pod: 'mimir-0', ... })
 *     -> 'http://127.0.0.1:18080/ready/m/mimir-0'
 * With the default template, a pod's annotation `9009/ready` gives `http://{podIP}:9009/ready`.
 *
 * Answer: 200 -> 'ok'; any other status, a timeout or a connection error -> 'failing'; a pod
 * not Ready is 'failing' without a request (Mimir would say 503 too, and a pod that is not
 * Ready may have no IP); a Ready pod not asked yet is 'unknown'.
 */
import type { ReadyProbe } from '@ringmaster/rollout-core';
import { MONOLITHIC_COMPONENTS, type ProbeSettings } from './watcher.config';

export interface ProbeUrlVars {
  podIP?: string;
  namespace: string;
  pod: string;
  cluster: string;
}

/** Whether pods of `component` (with annotation `readyProbe`, if any) are probed. */
export function isProbed(
  settings: Pick<ProbeSettings, 'components'>,
  component: string,
  readyProbeAnnotation?: string,
): boolean {
  if (settings.components) return settings.components.includes(component);
  return readyProbeAnnotation !== undefined || MONOLITHIC_COMPONENTS.includes(component);
}

/** Fills the placeholders; undefined when the template needs {podIP} and the pod has none. */
export function renderProbeUrl(template: string, vars: ProbeUrlVars): string | undefined {
  if (template.includes('{podIP}') && !vars.podIP) return undefined;
  // An IPv6 pod IP must be bracketed in a URL's host.
  const ip = vars.podIP && vars.podIP.includes(':') ? `[${vars.podIP}]` : (vars.podIP ?? '');
  return template
    .replaceAll('{podIP}', ip)
    .replaceAll('{namespace}', encodeURIComponent(vars.namespace))
    .replaceAll('{pod}', encodeURIComponent(vars.pod))
    .replaceAll('{cluster}', encodeURIComponent(vars.cluster));
}

/**
 * `ringmaster.dev/ready-probe` (`8080/ready`, `9009`, `8080/api/ready`) -> port and path, or
 * undefined when malformed (then the template is used as is).
 */
export function parseReadyProbeAnnotation(
  value: string | undefined,
): { port: number; path: string } | undefined {
  const m = /^\s*(\d{1,5})(\/\S*)?\s*$/.exec(value ?? '');
  if (!m) return undefined;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return undefined;
  return { port, path: m[2] ?? '/ready' };
}

/** The URL to probe for one pod, honouring the annotation unless the template was set explicitly. */
export function probeUrlFor(
  settings: Pick<ProbeSettings, 'urlTemplate' | 'explicitUrl'>,
  vars: ProbeUrlVars,
  readyProbeAnnotation?: string,
): string | undefined {
  const ann = settings.explicitUrl ? undefined : parseReadyProbeAnnotation(readyProbeAnnotation);
  const template = ann ? `http://{podIP}:${ann.port}${ann.path}` : settings.urlTemplate;
  return renderProbeUrl(template, vars);
}

/** An HTTP status (or a failure to get one) -> the probe result. */
export function probeResultOf(status: number | undefined): ReadyProbe {
  return status === 200 ? 'ok' : 'failing';
}
