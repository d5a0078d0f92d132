/**
 * Requests Node's HTTP parser refuses before any handler runs (a header value with a control
 * character, a malformed request line, headers too large) were answered by Node's default
 * `400 Bad Request` with no body. They get the API's JSON error shape too, naming the problem.
 */
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

const STATUS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request headers too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request not received in time'],
  HPE_INVALID_HEADER_TOKEN: [
    400,
    'Bad Request',
    'malformed header (a name or value holds a character HTTP does not allow)',
  ],
};

/** The raw HTTP/1.1 answer to a request the parser refused. */
export function clientErrorResponse(err: { code?: string }): string {
  const [status, error, message] = STATUS[err.code ?? ''] ?? [
    400,
    'Bad Request',
    `malformed HTTP request${err.code ? ` (${err.code})` : ''}`,
  ];
  const body = JSON.stringify({ statusCode: status, error, message });
  return (
    `HTTP/1.1 ${status} ${error}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(err));
  });
}
