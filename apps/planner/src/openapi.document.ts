/**
 * The OpenAPI 3.0 description of the planner's REST API, served at GET /openapi.json. The
 * request body schema is generated from the same zod schema that validates it, so the spec
 * and the validation cannot drift apart.
 */
import { zodToJsonSchema } from 'zod-to-json-schema';
import { RolloutRequestSchema } from '@ringmaster/contracts';
import { ROLLOUT_STATUSES } from '@ringmaster/persistence';

const json = (schema: object) => ({ 'application/json': { schema } });
const error = (description: string) => ({
  description,
  content: json({ $ref: '#/components/schemas/Error' }),
});
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', format: 'uuid' },
};
const rolloutRef = { $ref: '#/components/schemas/Rollout' };

const control = (verb: string, what: string) => ({
  post: {
    operationId: `${verb}Rollout`,
    summary: what,
    parameters: [idParam],
    requestBody: {
      required: false,
      content: json({
        type: 'object',
        additionalProperties: false,
        properties: { reason: { type: 'string', maxLength: 1000 } },
      }),
    },
    responses: {
      '200': {
        description: 'new status',
        content: json({
          type: 'object',
          required: ['id', 'status'],
          properties: {
            id: { type: 'string' },
            status: { type: 'string', enum: ROLLOUT_STATUSES },
            reason: { type: 'string' },
          },
        }),
      },
      '400': error('invalid body'),
      '404': error('no such rollout'),
      '409': error('the rollout already ended'),
    },
  },
});

/**
 * Every /v1 operation needs a bearer token: 401 without a valid one, 403 when its scopes do not
 * cover the rollout's targets (a list only shows what the token may read, so never 403s).
 * Each may answer 503 while the database or Kafka is unavailable.
 */
function withAuth<P extends Record<string, Record<string, { responses: object }>>>(paths: P): P {
  for (const [path, ops] of Object.entries(paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      Object.assign(op, { security: [{ bearer: [] }] });
      Object.assign(op.responses, {
        '401': error('no token, or an unknown one (WWW-Authenticate: Bearer)'),
        ...(path === '/v1/rollouts' && method === 'get'
          ? {}
          : { '403': error("the token's scopes do not cover the targets") }),
        '503': error(
          'the database or Kafka is unavailable; nothing was applied; retry (Retry-After)',
        ),
      });
    }
  }
  return paths;
}

export function openApiDocument(): object {
  // Cast: zod-to-json-schema types against its own zod copy; the runtime schema is the same object.
  const request = zodToJsonSchema(
    RolloutRequestSchema as unknown as Parameters<typeof zodToJsonSchema>[0],
    { target: 'openApi3', $refStrategy: 'none' },
  );
  return {
    openapi: '3.0.3',
    info: {
      title: 'Ringmaster planner API',
      version: '1.0.0',
      description:
        'Rolling updates of Grafana Mimir on Kubernetes, each component under its own availability limit.',
    },
    paths: withAuth({
      '/v1/rollouts': {
        post: {
          operationId: 'createRollout',
          summary: 'Create a rollout, or plan one (dryRun: true) without changing anything',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' },
            },
          ],
          requestBody: { required: true, content: json(request) },
          responses: {
            '200': {
              description:
                'a dry run (the plan), or an earlier rollout with the same Idempotency-Key',
              content: json({ type: 'object' }),
            },
            '201': { description: 'created', content: json(rolloutRef) },
            '400': error('malformed body: each problem names its field'),
            '409': error(
              'a target already has an active rollout (named): one at a time per target',
            ),
            '422': error(
              'unknown cluster, namespace or component, or an unsafe override without unsafe: true',
            ),
          },
        },
        get: {
          operationId: 'listRollouts',
          summary: 'List rollouts, newest first',
          parameters: [
            {
              name: 'status',
              in: 'query',
              required: false,
              schema: { type: 'string', enum: ROLLOUT_STATUSES },
            },
            {
              name: 'cluster',
              in: 'query',
              required: false,
              schema: { type: 'string', minLength: 1 },
            },
            {
              name: 'limit',
              in: 'query',
              required: false,
              schema: { type: 'integer', minimum: 1, maximum: 500 },
            },
            {
              name: 'cursor',
              in: 'query',
              required: false,
              schema: { type: 'string', minLength: 1 },
            },
          ],
          responses: {
            '200': {
              description: 'a page',
              content: json({
                type: 'object',
                required: ['items'],
                properties: {
                  items: { type: 'array', items: rolloutRef },
                  nextCursor: { type: 'string' },
                },
              }),
            },
            '400': error('bad filter'),
          },
        },
      },
      '/v1/rollouts/{id}': {
        get: {
          operationId: 'getRollout',
          summary: 'A rollout: plan, progress per target/component/zone, blocking reason, ETA',
          parameters: [idParam],
          responses: {
            '200': { description: 'the rollout', content: json(rolloutRef) },
            '404': error('no such rollout'),
          },
        },
      },
      '/v1/rollouts/{id}/pause': control(
        'pause',
        'Pause: no new restarts (Deployments mid-roll are paused too)',
      ),
      '/v1/rollouts/{id}/resume': control(
        'resume',
        'Resume a paused rollout, or retry a blocked one',
      ),
      '/v1/rollouts/{id}/abort': control('abort', 'Abort: nothing more is restarted'),
      '/v1/rollouts/{id}/events': {
        get: {
          operationId: 'rolloutEvents',
          summary: 'The audit trail',
          parameters: [
            idParam,
            {
              name: 'after',
              in: 'query',
              required: false,
              schema: { type: 'string', pattern: '^\\d{1,18}$' },
            },
          ],
          responses: {
            '200': {
              description: 'events, oldest first',
              content: json({
                type: 'object',
                properties: { items: { type: 'array', items: { type: 'object' } } },
              }),
            },
            '400': error('bad parameter'),
            '404': error('no such rollout'),
          },
        },
      },
      '/healthz': {
        get: {
          operationId: 'healthz',
          summary: 'Liveness',
          responses: { '200': { description: 'alive', content: json({ type: 'object' }) } },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Readiness: database reachable, observed state synced',
          responses: {
            '200': { description: 'ready', content: json({ type: 'object' }) },
            '503': { description: 'not ready', content: json({ type: 'object' }) },
          },
        },
      },
    }),
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            "An API token (rm_...) from the planner's tokens file (`npm run token -- add`), scoped by `read:<cluster>/<namespace>` and `roll:<cluster>/<namespace>` globs",
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['statusCode', 'error', 'message'],
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string' },
            message: { type: 'string' },
            problems: { type: 'array', items: { type: 'string' } },
          },
        },
        Rollout: {
          type: 'object',
          required: ['id', 'status', 'targets'],
          properties: {
            id: { type: 'string', format: 'uuid' },
            status: { type: 'string', enum: ROLLOUT_STATUSES },
            reason: { type: 'string' },
            targets: { type: 'array', items: { type: 'string' } },
          },
          additionalProperties: true,
        },
      },
    },
  };
}
