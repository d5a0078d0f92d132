/**
 * What the ready stub answers for one pod. Pure.
 *
 * Mimir answers `GET /ready` with 503 until every module runs; an ingester, for instance, only
 * after it is ACTIVE in the ring and `-ingester.ring.min-ready-duration` has passed. kwok pods
 * have no process, so the stub plays that part: a pod is "ready" once Kubernetes has shown it
 * Ready for at least `delayMs` (READY_STUB_DELAY_MS), and 503 before that.
 *
 *   readyAnswer(undefined, now, 2000)                              -> 503 unknown pod
 *   readyAnswer({ uid, readySince: undefined }, now, 2000)         -> 503 not Ready
 *   readyAnswer({ uid, readySince: now - 500 }, now, 2000)         -> 503 (500 of 2000 ms)
 *   readyAnswer({ uid, readySince: now - 2000 }, now, 2000)        -> 200 ready
 */
import type { V1Pod } from '@kubernetes/client-node';
import { isPodReady, toEpochMs } from '@ringmaster/kube';

export interface StubPodState {
  uid: string;
  /** When the stub considers the pod Ready since (epoch ms); undefined while not Ready. */
  readySince?: number;
}

export interface StubAnswer {
  status: 200 | 404 | 503;
  body: string;
}

export function readyAnswer(
  pod: StubPodState | undefined,
  now: number,
  delayMs: number,
): StubAnswer {
  if (!pod) return { status: 503, body: 'unknown pod (not seen by the stub)\n' };
  if (pod.readySince === undefined) return { status: 503, body: 'pod not Ready\n' };
  const readyFor = now - pod.readySince;
  if (readyFor < delayMs)
    return {
      status: 503,
      body: `not ready: Ready for ${readyFor} of ${delayMs} ms (ring membership not ACTIVE yet)\n`,
    };
  return { status: 200, body: 'ready\n' };
}

/**
 * The pod's next state. A pod seen Ready in a list counts from its Ready condition's
 * lastTransitionTime (it may have been Ready long before the stub started); a pod that turns
 * Ready while watched counts from the moment the stub sees it (the condition's time has
 * second precision only). A new uid starts over.
 */
export function nextPodState(
  prev: StubPodState | undefined,
  pod: V1Pod,
  now: number,
  fromList: boolean,
): StubPodState {
  const uid = pod.metadata?.uid ?? '';
  if (!isPodReady(pod)) return { uid };
  if (prev && prev.uid === uid && prev.readySince !== undefined) return prev;
  if (fromList) {
    const cond = pod.status?.conditions?.find((c) => c.type === 'Ready');
    const since = toEpochMs(cond?.lastTransitionTime as Date | string | undefined);
    return { uid, readySince: since !== undefined ? Math.min(since, now) : now };
  }
  return { uid, readySince: now };
}

/** `/ready/{namespace}/{pod}` -> its parts, or undefined. */
export function parseReadyPath(path: string): { namespace: string; pod: string } | undefined {
  const m = /^\/ready\/([^/?#]+)\/([^/?#]+)\/?(?:[?#].*)?$/.exec(path);
  if (!m) return undefined;
  try {
    return { namespace: decodeURIComponent(m[1]), pod: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}
