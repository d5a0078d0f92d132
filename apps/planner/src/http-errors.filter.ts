/**
 * Every error answer has one shape: `{ statusCode, error, message, problems? }`, where
 * `problems` lists each wrong field. An error messaging's classifyError calls retriable (the
 * database or Kafka unreachable, restarting, a connection reset, a write conflict that kept
 * losing) is answered 503 with Retry-After: the request was not applied and may be sent again
 * (with the same Idempotency-Key). Anything else unexpected is logged and answered 500 without
 * internals.
 */
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';
import { classifyError, errorReason } from '@ringmaster/messaging';
import { AccessError } from './auth/access.guard';
import { RolloutRequestError } from './rollout.service';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  409: 'Conflict',
  422: 'Unprocessable Entity',
};

/** Seconds a client should wait after a 503: about one reconnect of the database pool. */
const RETRY_AFTER_S = 2;

@Catch()
export class HttpErrorsFilter implements ExceptionFilter {
  private readonly log = new Logger('HTTP');

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (err instanceof RolloutRequestError) {
      res.status(err.status).json({
        statusCode: err.status,
        error: REASONS[err.status],
        message: err.message,
        problems: err.problems,
      });
      return;
    }
    if (err instanceof AccessError) {
      if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="ringmaster"');
      res.status(err.status).json({
        statusCode: err.status,
        error: STATUS_CODES[err.status],
        message: err.message,
      });
      return;
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const body = err.getResponse();
      const message =
        typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? err.message);
      res.status(status).json({
        statusCode: status,
        error: STATUS_CODES[status] ?? err.name.replace(/Exception$/, ''),
        message: Array.isArray(message) ? message.join('; ') : String(message),
      });
      return;
    }
    // body-parser's own errors (http-errors): 413 for a body over the limit, 415, 400 ...
    const status = (err as { status?: unknown; expose?: unknown }).status;
    if (
      typeof status === 'number' &&
      status >= 400 &&
      status < 500 &&
      (err as { expose?: unknown }).expose
    ) {
      const message =
        status === 413
          ? `request body larger than the limit (${(err as { limit?: number }).limit ?? '?'} bytes)`
          : String((err as Error).message);
      // The reason phrase, like every other error answer ('Bad Request', not 'BadRequestError').
      res
        .status(status)
        .json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
      return;
    }
    if (classifyError(err) === 'retriable') {
      this.log.warn(`answered 503: ${errorReason(err)}`);
      res.setHeader('Retry-After', String(RETRY_AFTER_S));
      res.status(503).json({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the database or Kafka is unavailable for now; nothing was applied, retry',
      });
      return;
    }
    this.log.error(err instanceof Error ? err.stack : String(err));
    res.status(500).json({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'unexpected error; see the planner log',
    });
  }
}
