/**
 * Error classes and classification for Kubernetes API calls.
 *
 * Every failure is either retriable (the same call may succeed later: 5xx, timeouts, a reset
 * connection, API priority-and-fairness throttling) or permanent (forbidden, invalid, a
 * workload that does not exist, a layout Ringmaster refuses to touch). Retriable ones are
 * thrown as {@link KubeRetriableError} so the caller's retry policy (e.g. the executor's
 * Kafka consumer) handles them; permanent ones become a `failed` outcome with the reason.
 *
 * Classification reads only the shape of the error (`code` of client-node's ApiException,
 * `statusCode` of a watch error, Node's `code` of a socket error), so it is pure and unit
 * tested without loading the client.
 *
 * | input                                              | class     |
 * |----------------------------------------------------|-----------|
 * | ApiException code 500/502/503/504                  | retriable |
 * | code 429 (throttling; PDB refusals are handled before this) | retriable |
 * | code 408, socket ECONNRESET/ECONNREFUSED/ETIMEDOUT/EPIPE, timeouts | retriable |
 * | code 400/401/403/404/405/409/422                   | permanent |
 * | code 500 "more than one PodDisruptionBudget"        | permanent |
 */

/** A call that may succeed if repeated later. */
export class KubeRetriableError extends Error {
  override readonly name = 'KubeRetriableError';
  constructor(
    message: string,
    /** HTTP status, when the API answered. */
    readonly status?: number,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** A call that will fail the same way however often it is repeated. */
export class KubePermanentError extends Error {
  override readonly name = 'KubePermanentError';
  constructor(
    message: string,
    /** HTTP status, when the API answered. */
    readonly status?: number,
    /** Kubernetes Status reason (`Forbidden`, `Invalid`, ...) or Ringmaster's own reason. */
    readonly reason?: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export type KubeErrorClass = 'retriable' | 'permanent';

export interface ClassifiedKubeError {
  class: KubeErrorClass;
  /** HTTP status when the API answered, else undefined (network, timeout). */
  status?: number;
  /** Kubernetes Status `reason` (e.g. `TooManyRequests`, `Forbidden`), or a socket code. */
  reason?: string;
  /** Short human message: the Status message, or the error message. */
  message: string;
  /** Status `details.causes[].message`, joined (the PDB name and numbers on a 429). */
  causes?: string;
}

const RETRIABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRIABLE_SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A Kubernetes `Status` object as the API returns it in an error body. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

/**
 * The HTTP status of an error thrown by client-node: `code` on an ApiException (1.x generated
 * clients), `statusCode` on a watch error, `response.statusCode` on older shapes.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (e.response && typeof e.response.statusCode === 'number') return e.response.statusCode;
  return undefined;
}

/**
 * The Status object in an ApiException body. client-node 1.x puts the raw response text in
 * `body` for statuses its spec does not list (all errors), so this parses a string as well.
 */
export function kubeStatusOf(err: unknown): KubeStatus | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const body = (err as { body?: unknown }).body;
  if (body && typeof body === 'object') return body as KubeStatus;
  if (typeof body === 'string' && body.startsWith('{')) {
    try {
      return JSON.parse(body) as KubeStatus;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function socketCodeOf(err: unknown): string | undefined {
  let e: unknown = err;
  // node-fetch FetchError carries `code` (and `errno`); undici nests it in `cause`.
  for (let depth = 0; depth < 3 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function isTimeout(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: unknown; type?: unknown; message?: unknown };
  return (
    e.name === 'TimeoutError' ||
    e.type === 'request-timeout' ||
    (typeof e.message === 'string' && /timed? ?out/i.test(e.message))
  );
}

/**
 * Classifies any error a client-node call may throw.
 *
 * classifyKubeError({ code: 503, body: '{"message":"etcdserver: leader changed"}' })
 *   -> { class: 'retriable', status: 503, message: 'etcdserver: leader changed' }
 * classifyKubeError({ code: 403, body: { reason: 'Forbidden', message: 'pods "x" is forbidden' } })
 *   -> { class: 'permanent', status: 403, reason: 'Forbidden', ... }
 * classifyKubeError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
 *   -> { class: 'retriable', reason: 'ECONNRESET', message: 'socket hang up' }
 */
export function classifyKubeError(err: unknown): ClassifiedKubeError {
  if (err instanceof KubeRetriableError)
    return { class: 'retriable', status: err.status, message: err.message };
  if (err instanceof KubePermanentError) {
    return { class: 'permanent', status: err.status, reason: err.reason, message: err.message };
  }
  const status = httpStatusOf(err);
  const st = kubeStatusOf(err);
  const causes = st?.details?.causes
    ?.map((c) => c.message)
    .filter((m): m is string => !!m)
    .join('; ');
  if (status !== undefined) {
    const message = st?.message ?? firstLine(err) ?? `HTTP ${status}`;
    // The eviction subresource answers 500 when several PDBs select the pod: no retry helps.
    if (status === 500 && /more than one PodDisruptionBudget/i.test(message)) {
      return {
        class: 'permanent',
        status,
        reason: 'MultiplePodDisruptionBudgets',
        message,
        causes,
      };
    }
    return {
      class: RETRIABLE_STATUS.has(status) ? 'retriable' : 'permanent',
      status,
      reason: st?.reason,
      message,
      ...(causes ? { causes } : {}),
    };
  }
  const code = socketCodeOf(err);
  const message = firstLine(err) ?? String(err);
  if (code && RETRIABLE_SOCKET_CODES.has(code))
    return { class: 'retriable', reason: code, message };
  if (isTimeout(err)) return { class: 'retriable', reason: 'Timeout', message };
  // No status and no known socket code: a request that never got an answer (DNS, TLS
  // handshake, aborted stream). Retrying is the safe default; the caller's deadline bounds it.
  const fetchType = (err as { type?: unknown } | undefined)?.type;
  if (fetchType === 'system' || (err as { name?: unknown } | undefined)?.name === 'FetchError') {
    return { class: 'retriable', reason: code ?? 'FetchError', message };
  }
  return { class: 'permanent', reason: code, message };
}

/**
 * Codes of a request that never got a connection: the API server never saw it, so it cannot
 * have had an effect (unlike a reset or a timeout after the request was sent).
 */
const CONNECT_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether an error (or one it wraps, via `cause`) is a failure to connect at all, so the call
 * surely had no effect:
 *
 *   isConnectFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' })) === true
 *   isConnectFailure(new KubeRetriableError('evict pod: ECONNREFUSED', undefined, thatError))   === true
 *   isConnectFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))          === false
 *   isConnectFailure({ code: 503 })                                                                === false
 *
 * A connect timeout counts (`ETIMEDOUT` on the `connect` syscall); a timeout of a request
 * already sent does not.
 */
export function isConnectFailure(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++) {
    const { code, syscall, erroredSysCall } = e as {
      code?: unknown;
      syscall?: unknown;
      erroredSysCall?: unknown;
    };
    if (typeof code === 'string' && CONNECT_FAILURE_CODES.has(code)) return true;
    if (code === 'ETIMEDOUT' && (syscall === 'connect' || erroredSysCall === 'connect'))
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Throws a {@link KubeRetriableError} for a retriable error; returns the classification otherwise. */
export function rethrowIfRetriable(err: unknown, what: string): ClassifiedKubeError {
  const c = classifyKubeError(err);
  if (c.class === 'retriable') {
    throw new KubeRetriableError(`${what}: ${describe(c)}`, c.status, err);
  }
  return c;
}

/** "403 Forbidden: pods "x" is forbidden" / "ECONNRESET: socket hang up". */
export function describe(c: ClassifiedKubeError): string {
  const head = [c.status, c.reason].filter((x) => x !== undefined && x !== '').join(' ');
  const tail = c.causes && !c.message.includes(c.causes) ? `${c.message} (${c.causes})` : c.message;
  return head ? `${head}: ${tail}` : tail;
}

function firstLine(err: unknown): string | undefined {
  if (err instanceof Error && err.message) return err.message.split('\n')[0];
  return undefined;
}

/** Default bound on one API call: the generated client has no timeout of its own. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * Bounds a client-node call: past `ms` it rejects with a retriable timeout. The request itself
 * is not cancelled (the generated client takes no signal); its late answer is ignored, which
 * is safe because every action is re-read and idempotent (uid preconditions, set-value patches).
 */
export function withTimeout<T>(call: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) return call;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new KubeRetriableError(`${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}
