import {
  KubePermanentError,
  KubeRetriableError,
  classifyKubeError,
  describe as describeError,
  isConnectFailure,
  rethrowIfRetriable,
  withTimeout,
} from './kube.errors';

/** What client-node 1.x throws for an API error: ApiException with the raw body text. */
function apiException(
  code: number,
  status: object | string = {},
  headers: Record<string, string> = {},
) {
  return Object.assign(new Error(`HTTP-Code: ${code}\nMessage: Unknown API Status Code!`), {
    code,
    body:
      typeof status === 'string'
        ? status
        : JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, ...status }),
    headers,
  });
}

function socketError(code: string, message = 'socket hang up') {
  return Object.assign(new Error(message), { code, type: 'system', name: 'FetchError' });
}

describe('classifyKubeError', () => {
  it.each<[string, unknown, object]>([
    [
      '503 retriable',
      apiException(503, { message: 'etcdserver: leader changed' }),
      { class: 'retriable', status: 503, message: 'etcdserver: leader changed' },
    ],
    [
      '500 retriable',
      apiException(500, { message: 'Internal error' }),
      { class: 'retriable', status: 500 },
    ],
    ['504 retriable', apiException(504), { class: 'retriable', status: 504 }],
    [
      '429 throttling retriable',
      apiException(429, { reason: 'TooManyRequests', message: 'too many requests' }),
      { class: 'retriable', status: 429 },
    ],
    [
      '403 permanent',
      apiException(403, { reason: 'Forbidden', message: 'pods "x" is forbidden' }),
      { class: 'permanent', status: 403, reason: 'Forbidden', message: 'pods "x" is forbidden' },
    ],
    [
      '422 permanent',
      apiException(422, { reason: 'Invalid', message: 'spec.template: Invalid value' }),
      { class: 'permanent', status: 422, reason: 'Invalid' },
    ],
    [
      '404 permanent',
      apiException(404, { reason: 'NotFound', message: 'not found' }),
      { class: 'permanent', status: 404 },
    ],
    [
      '500 "more than one PodDisruptionBudget" permanent',
      apiException(500, {
        message:
          'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      }),
      { class: 'permanent', status: 500, reason: 'MultiplePodDisruptionBudgets' },
    ],
    [
      'ECONNRESET retriable',
      socketError('ECONNRESET'),
      { class: 'retriable', reason: 'ECONNRESET', message: 'socket hang up' },
    ],
    [
      'ECONNREFUSED retriable',
      socketError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:6443'),
      { class: 'retriable', reason: 'ECONNREFUSED' },
    ],
    [
      'cause chain (undici style)',
      Object.assign(new Error('fetch failed'), { cause: { code: 'UND_ERR_SOCKET' } }),
      { class: 'retriable', reason: 'UND_ERR_SOCKET' },
    ],
    [
      'timeout retriable',
      Object.assign(new Error('The operation was aborted due to timeout'), {
        name: 'TimeoutError',
      }),
      { class: 'retriable', reason: 'Timeout' },
    ],
    [
      'watch error with statusCode',
      Object.assign(new Error('Gone'), { statusCode: 410 }),
      { class: 'permanent', status: 410 },
    ],
    [
      'non-JSON body',
      apiException(502, '<html>bad gateway</html>'),
      { class: 'retriable', status: 502, message: 'HTTP-Code: 502' },
    ],
    ['plain Error permanent', new Error('boom'), { class: 'permanent', message: 'boom' }],
    ['own retriable', new KubeRetriableError('x', 503), { class: 'retriable', status: 503 }],
    [
      'own permanent',
      new KubePermanentError('refused', undefined, 'NotTakenOver'),
      { class: 'permanent', reason: 'NotTakenOver' },
    ],
  ])('%s', (_t, err, expected) => {
    expect(classifyKubeError(err)).toMatchObject(expected);
  });

  it('keeps the PDB cause of a 429 eviction answer', () => {
    const c = classifyKubeError(
      apiException(429, {
        reason: 'TooManyRequests',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        details: {
          causes: [
            {
              reason: 'DisruptionBudget',
              message:
                'The disruption budget mimir-ingester needs 5 healthy pods and has 5 currently',
            },
          ],
        },
      }),
    );
    expect(c.causes).toBe(
      'The disruption budget mimir-ingester needs 5 healthy pods and has 5 currently',
    );
    expect(describeError(c)).toBe(
      "429 TooManyRequests: Cannot evict pod as it would violate the pod's disruption budget. (The disruption budget mimir-ingester needs 5 healthy pods and has 5 currently)",
    );
  });
});

describe('rethrowIfRetriable', () => {
  it('throws KubeRetriableError with the status for transient errors', () => {
    expect(() =>
      rethrowIfRetriable(apiException(503, { message: 'unavailable' }), 'read pod'),
    ).toThrow(KubeRetriableError);
    try {
      rethrowIfRetriable(apiException(503, { message: 'unavailable' }), 'read pod');
    } catch (e) {
      expect((e as KubeRetriableError).status).toBe(503);
      expect((e as Error).message).toBe('read pod: 503: unavailable');
    }
  });

  it('returns the classification of permanent errors', () => {
    expect(
      rethrowIfRetriable(apiException(403, { reason: 'Forbidden', message: 'no' }), 'x'),
    ).toMatchObject({ class: 'permanent', status: 403 });
  });
});

describe('withTimeout', () => {
  it('passes the answer through', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
  });

  it('rejects with a retriable error when the call hangs', async () => {
    const never = new Promise<number>(() => undefined);
    await expect(withTimeout(never, 5, 'read pod')).rejects.toThrow(
      new KubeRetriableError('read pod: no answer within 5 ms'),
    );
  });
});

describe('isConnectFailure: the request never reached the API server', () => {
  const sys = (code: string, extra: object = {}) =>
    Object.assign(new Error(`${code} happened`), { code, ...extra });
  // node-fetch's FetchError, as client-node 1.x throws it for a refused connection.
  const fetchError = Object.assign(
    new Error(
      'request to https://127.0.0.1:1/api/v1/pods failed, reason: connect ECONNREFUSED 127.0.0.1:1',
    ),
    { name: 'FetchError', type: 'system', code: 'ECONNREFUSED', errno: 'ECONNREFUSED' },
  );
  it.each([
    ['a refused connection (FetchError)', fetchError, true],
    [
      'the same wrapped by rethrowIfRetriable',
      new KubeRetriableError('evict pod: refused', undefined, fetchError),
      true,
    ],
    ['no route to host', sys('EHOSTUNREACH'), true],
    ['network unreachable', sys('ENETUNREACH'), true],
    ['DNS: no such host', sys('ENOTFOUND'), true],
    ['DNS: try again', sys('EAI_AGAIN'), true],
    ['undici connect timeout', sys('UND_ERR_CONNECT_TIMEOUT'), true],
    ['a timeout while connecting', sys('ETIMEDOUT', { syscall: 'connect' }), true],
    ['a timeout after sending', sys('ETIMEDOUT', { syscall: 'read' }), false],
    ['a reset (the request may have been sent)', sys('ECONNRESET'), false],
    ['a broken pipe', sys('EPIPE'), false],
    ['an API answer (503)', apiException(503, { message: 'etcd leader changed' }), false],
    ['our own call timeout', new KubeRetriableError('read pod: no answer within 5 ms'), false],
    ['not an error', 'ECONNREFUSED', false],
  ])('%s -> %s', (_what, err, expected) => {
    expect(isConnectFailure(err)).toBe(expected);
  });
});
