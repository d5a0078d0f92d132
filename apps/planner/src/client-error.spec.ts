import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { answerClientErrors, clientErrorResponse } from './client-error';

describe('clientErrorResponse', () => {
  it('is the JSON error shape with a matching Content-Length', () => {
    const raw = clientErrorResponse({ code: 'HPE_INVALID_HEADER_TOKEN' });
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('Content-Type: application/json');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: expect.stringMatching(/malformed header/),
    });
    expect(clientErrorResponse({ code: 'HPE_HEADER_OVERFLOW' })).toMatch(/^HTTP\/1\.1 431 /);
    expect(clientErrorResponse({})).toMatch(/^HTTP\/1\.1 400 /);
  });
});

// Found by schemathesis: an Idempotency-Key holding a control character was answered by
// Node's parser with a bare 400 (no body, no Content-Type). Loopback socket only, no infra.
describe('answerClientErrors', () => {
  let server: Server;
  beforeAll(async () => {
    server = createServer((_req, res) => res.end('handler'));
    answerClientErrors(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => new Promise<void>((r) => server.close(() => r())));

  it('answers a header with a control character in the JSON error shape', async () => {
    const { port } = server.address() as AddressInfo;
    const reply = await new Promise<string>((resolve, reject) => {
      let data = '';
      const s = connect(port, '127.0.0.1', () =>
        s.write('GET / HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\x01b\r\n\r\n'),
      );
      s.on('data', (d) => (data += d.toString()));
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(reply.split('\r\n\r\n')[1])).toMatchObject({ statusCode: 400 });
  });
});
