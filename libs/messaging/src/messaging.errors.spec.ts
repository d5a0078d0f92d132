import {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSNonRetriableError,
} from 'kafkajs';
import { z } from 'zod';
import { ContractViolationError } from '@ringmaster/contracts';
import { PermanentError, RetriableError, classifyError, errorReason } from './messaging.errors';

const withProps = (message: string, props: Record<string, unknown>) =>
  Object.assign(new Error(message), props);
/** kafkajs builds protocol errors from its error-code table entries. */
const protocolError = (type: string, code: number, retriable: boolean) =>
  Object.assign(new Error(type), { type, code, retriable });
const queryFailed = (code: string) =>
  Object.assign(new Error(`query failed (${code})`), { name: 'QueryFailedError', code });

describe('classifyError', () => {
  // [case, error, class]
  const cases: [string, unknown, 'retriable' | 'permanent'][] = [
    ['RetriableError', new RetriableError('later'), 'retriable'],
    ['PermanentError', new PermanentError('never'), 'permanent'],
    ['zod validation', z.object({ a: z.string() }).safeParse({}).error, 'permanent'],
    [
      'JSON syntax',
      (() => {
        try {
          JSON.parse('{');
        } catch (e) {
          return e;
        }
      })(),
      'permanent',
    ],
    ['contract violation', new ContractViolationError('x: Required'), 'permanent'],
    [
      'kafkajs connection error',
      new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'),
      'retriable',
    ],
    [
      'kafkajs retries exceeded',
      new KafkaJSNumberOfRetriesExceeded(new Error('x'), { retryCount: 5, retryTime: 1000 }),
      'retriable',
    ],
    [
      'kafkajs retriable protocol error',
      new KafkaJSProtocolError(protocolError('LEADER_NOT_AVAILABLE', 5, true)),
      'retriable',
    ],
    [
      'kafkajs non-retriable protocol error',
      new KafkaJSProtocolError(protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false)),
      'permanent',
    ],
    ['kafkajs non-retriable', new KafkaJSNonRetriableError('bad'), 'permanent'],
    [
      'ECONNREFUSED',
      withProps('connect ECONNREFUSED 127.0.0.1:6443', { code: 'ECONNREFUSED' }),
      'retriable',
    ],
    ['ETIMEDOUT', withProps('timeout', { code: 'ETIMEDOUT' }), 'retriable'],
    ['undici socket', withProps('other side closed', { code: 'UND_ERR_SOCKET' }), 'retriable'],
    ['pg serialization failure', queryFailed('40001'), 'retriable'],
    ['pg deadlock', queryFailed('40P01'), 'retriable'],
    ['pg connection failure', queryFailed('08006'), 'retriable'],
    ['pg shutting down', queryFailed('57P01'), 'retriable'],
    ['pg too many connections', queryFailed('53300'), 'retriable'],
    ['pg unique violation', queryFailed('23505'), 'permanent'],
    ['pg bad input', queryFailed('22P02'), 'permanent'],
    [
      'pg connection lost without code',
      new Error('Connection terminated unexpectedly'),
      'retriable',
    ],
    [
      'wrapped pg error (driverError)',
      withProps('wrapped', { driverError: { code: '40001' } }),
      'retriable',
    ],
    ['HTTP 429 (PDB refusal)', withProps('Too Many Requests', { code: 429 }), 'retriable'],
    ['HTTP 503', withProps('unavailable', { statusCode: 503 }), 'retriable'],
    ['HTTP 403', withProps('forbidden', { code: 403 }), 'permanent'],
    ['HTTP 404', withProps('not found', { statusCode: 404 }), 'permanent'],
    [
      'own retriable flag',
      withProps('version conflict', { retriable: true, code: 'ROLLOUT_VERSION_CONFLICT' }),
      'retriable',
    ],
    [
      'cause chain',
      new Error('outer', { cause: withProps('inner', { code: 'ECONNRESET' }) }),
      'retriable',
    ],
    ['unknown error', new Error('boom'), 'permanent'],
    ['thrown string', 'boom', 'permanent'],
    ['thrown undefined', undefined, 'permanent'],
  ];
  it.each(cases)('%s', (_case, error, expected) => {
    expect(classifyError(error)).toBe(expected);
  });
});

describe('errorReason', () => {
  it.each([
    [new PermanentError('x: Required'), 'PermanentError: x: Required'],
    [new Error('plain'), 'plain'],
    [withProps('connect failed', { code: 'ECONNREFUSED' }), 'connect failed (code ECONNREFUSED)'],
    ['a string', 'a string'],
  ])('%#', (error, reason) => {
    expect(errorReason(error)).toBe(reason);
  });
});
