/**
 * Every error a handler throws is either retriable (the same message may well succeed later:
 * a broker or database is briefly away, a row was written concurrently) or permanent (it will
 * fail the same way every time: the message is invalid, the contract is violated). Consumers
 * retry the first with backoff and never skip it; they dead-letter the second and move on.
 *
 * Unknown errors count as permanent: a bug must not wedge a partition forever, and the
 * dead-letter record keeps the message for a replay once the bug is fixed. Adapters that know
 * better say so, by throwing RetriableError/PermanentError or setting `retriable` on their
 * errors (persistence's RolloutVersionConflictError does).
 */

/** Try again later; the message is not committed until it succeeds. */
export class RetriableError extends Error {
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetriableError';
  }
}

/** Will never succeed: dead-letter the message with this error's message as the reason. */
export class PermanentError extends Error {
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

export type ErrorClass = 'retriable' | 'permanent';

/** kafkajs errors worth retrying whatever their own `retriable` flag says (it is false for some). */
const KAFKAJS_RETRIABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

/** Node/undici network error codes: the peer is away or slow. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/**
 * Postgres SQLSTATEs worth retrying: 08 connection exception, 40001 serialization failure,
 * 40P01 deadlock, 53 insufficient resources, 55P03 lock not available, 57P01-57P03 server
 * shutting down / not yet accepting, 58 system (I/O) error. Everything else from Postgres
 * (22 data, 23 constraint, 42 syntax/undefined ...) is the same on every try.
 */
function pgRetriable(code: string): boolean {
  return (
    code.startsWith('08') ||
    code === '40001' ||
    code === '40P01' ||
    code.startsWith('53') ||
    code === '55P03' ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code.startsWith('58')
  );
}

/** Messages of pg/TypeORM connection failures that come without a code. */
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /terminating connection/i,
  /timeout exceeded when trying to connect/i,
  /connection is not queryable/i,
  /Connection lost/i,
];

/** HTTP statuses worth retrying (Kubernetes API: 429 is a PDB refusal or rate limit). */
const HTTP_RETRIABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

type ErrorLike = {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  statusCode?: unknown;
  retriable?: unknown;
  cause?: unknown;
  driverError?: unknown;
};

/** Classifies any thrown value; see the rules at the top of this file. */
export function classifyError(error: unknown): ErrorClass {
  return classify(error, 0) ?? 'permanent';
}

function classify(error: unknown, depth: number): ErrorClass | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  if (error instanceof RetriableError) return 'retriable';
  if (error instanceof PermanentError) return 'permanent';
  const e = error as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : '';

  if (name === 'ZodError' || error instanceof SyntaxError) return 'permanent';
  if (name.startsWith('KafkaJS')) {
    if (KAFKAJS_RETRIABLE.has(name)) return 'retriable';
    return e.retriable === true ? 'retriable' : (classify(e.cause, depth + 1) ?? 'permanent');
  }
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code)) return 'retriable';
    if (/^[0-9A-Z]{5}$/.test(e.code) && /^[0-9]{2}/.test(e.code))
      return pgRetriable(e.code) ? 'retriable' : 'permanent';
  }
  const status =
    typeof e.statusCode === 'number'
      ? e.statusCode
      : typeof e.code === 'number'
        ? e.code
        : undefined;
  if (status !== undefined && status >= 400 && status < 600)
    return HTTP_RETRIABLE.has(status) ? 'retriable' : 'permanent';
  if (typeof e.retriable === 'boolean') return e.retriable ? 'retriable' : 'permanent';
  if (
    typeof e.message === 'string' &&
    CONNECTION_MESSAGES.some((re) => re.test(e.message as string))
  )
    return 'retriable';
  return classify(e.driverError, depth + 1) ?? classify(e.cause, depth + 1);
}

/** One line for logs and dead letters: `Name: message (code X)`, at most 1000 characters. */
export function errorReason(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error).slice(0, 1000);
  const e = error as ErrorLike;
  const name = typeof e.name === 'string' && e.name !== 'Error' ? `${e.name}: ` : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code =
    e.code !== undefined && !message.includes(String(e.code)) ? ` (code ${String(e.code)})` : '';
  return `${name}${message}${code}`.slice(0, 1000);
}
