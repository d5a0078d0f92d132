import { BadRequestException, Logger, type ArgumentsHost } from '@nestjs/common';
import { HttpErrorsFilter } from './http-errors.filter';

function answer(err: unknown): { status: number; body: unknown } {
  const out = { status: 0, body: undefined as unknown };
  const res = {
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

  it('answers anything else 500 without internals', () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const r = answer(new Error('secret detail'));
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.body)).not.toContain('secret');
  });
});
