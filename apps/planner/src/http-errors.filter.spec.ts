import { BadRequestException, Logger, type ArgumentsHost } from '@nestjs/common';
import { HttpErrorsFilter } from './http-errors.filter';

function answer(err: unknown): {
  status: number;
  body: unknown;
  headers: Record<string, string>;
} {
  const out = { status: 0, body: undefined as unknown, headers: {} as Record<string, string> };
  const res = {
    setHeader(name: string, value: string) {
      out.headers[name] = value;
    },
    status(s: number) {
      out.status = s;
      return res;
    },
    json(b: unknown) {
      out.body = b;
      return res;
    },
  };
  const host = { switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  new HttpErrorsFilter().catch(err, host);
  return out;
}

describe('HttpErrorsFilter', () => {
  // A malformed JSON body (body-parser's error) answered error: "BadRequest", unlike the rest.
  it("answers body-parser's errors with the reason phrase as error", () => {
    const err = Object.assign(new SyntaxError('Unexpected token b in JSON at position 1'), {
      status: 400,
      expose: true,
    });
    expect(answer(err)).toEqual({
      status: 400,
      body: {
        statusCode: 400,
        error: 'Bad Request',
        message: 'Unexpected token b in JSON at position 1',
      },
      headers: {},
    });
    const big = Object.assign(new Error('request entity too large'), {
      status: 413,
      expose: true,
      limit: 262144,
    });
    expect(answer(big).body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'request body larger than the limit (262144 bytes)',
    });
  });

  // Nest's own exceptions (a malformed JSON body arrives as one) said error: "BadRequest".
  it("answers Nest's exceptions with the reason phrase as error", () => {
    expect(answer(new BadRequestException('Unexpected token b in JSON')).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Unexpected token b in JSON',
    });
  });

  // Postgres down: the REST API answered 500 (chaos lane, Postgres restart) though nothing was
  // wrong with the request and sending it again later succeeds.
  it.each([
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    ],
    [
      'the server shutting down (TypeORM wraps the driver error)',
      Object.assign(new Error('query failed'), {
        name: 'QueryFailedError',
        driverError: { code: '57P01', message: 'terminating connection' },
      }),
    ],
    ['a pool without a connection', new Error('timeout exceeded when trying to connect')],
  ])('answers 503 with Retry-After when a dependency is unavailable: %s', (_, err) => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const r = answer(err);
    expect(r.status).toBe(503);
    expect(r.headers['Retry-After']).toBe('2');
    expect(r.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'the database or Kafka is unavailable for now; nothing was applied, retry',
    });
  });

  it('answers anything else 500 without internals', () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const r = answer(new Error('secret detail'));
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toContain('secret');
  });
});
