import { classifyError } from './messaging.errors';

export interface RetryOptions {
  /** What is being tried, for the log line. */
  what: string;
  attempts?: number;
  initialMs?: number;
  maxMs?: number;
  log?: (message: string) => void;
}

/**
 * Runs `fn`, retrying errors that classifyError calls retriable (a broker still electing
 * leaders, a database restarting) with exponential backoff; a permanent error, or the last
 * attempt's, is thrown. Start-up steps use it so services started together do not trip over
 * each other.
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 30;
  let delay = opts.initialMs ?? 250;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || classifyError(e) !== 'retriable') throw e;
      opts.log?.(
        `${opts.what}: ${e instanceof Error ? e.message : String(e)}; retrying in ${delay} ms (${i}/${attempts})`,
      );
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, opts.maxMs ?? 5_000);
    }
  }
}
