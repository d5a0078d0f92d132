/**
 * The REST API of the platform portal (documented by the OpenAPI spec at /openapi.json):
 *
 *   POST /v1/rollouts                 create (or plan, with dryRun); Idempotency-Key makes retries safe
 *   GET  /v1/rollouts                 list, filter by status and cluster, keyset paging
 *   GET  /v1/rollouts/{id}            plan, progress per target/component/zone, reason, ETA
 *   POST /v1/rollouts/{id}/pause      | resume | abort
 *   GET  /v1/rollouts/{id}/events     the audit trail
 *
 * Bodies are validated against the same schema as upgrade-request events; every rejection
 * names the field (`targets.0.cluster: Required`).
 */
import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { z } from 'zod';
import { RolloutRequestSchema, validate } from '@ringmaster/contracts';
import { InvalidCursorError } from '@ringmaster/persistence';
import { parseListQuery, type RawQuery } from './list-query';
import { RolloutRequestError, RolloutService } from './rollout.service';
import { rolloutSummary, rolloutView } from './rollout.view';

const ControlBody = z.object({ reason: z.string().max(1000).optional() }).strict();
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
/** Event ids are bigint: more digits would overflow in Postgres (a 500, not a 400). */
export const EVENT_ID = /^\d{1,18}$/;

@Controller('v1/rollouts')
export class RolloutHttpController {
  constructor(private readonly rollouts: RolloutService) {}

  @Post()
  async create(
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new RolloutRequestError(400, ['Idempotency-Key: 1-200 visible ASCII characters']);
    }
    const parsed = validate(RolloutRequestSchema, body ?? {});
    if (!parsed.ok) throw new RolloutRequestError(400, parsed.reason.split('; '));
    const r = await this.rollouts.create(parsed.value, { idempotencyKey: key });
    if (r.kind === 'dry-run') {
      res.status(HttpStatus.OK);
      return { dryRun: true, plan: r.plan };
    }
    res.status(r.kind === 'created' ? HttpStatus.CREATED : HttpStatus.OK);
    if (r.kind === 'existing') res.setHeader('Idempotent-Replayed', 'true');
    res.setHeader('Location', `/v1/rollouts/${r.rollout.id}`);
    return {
      ...rolloutSummary(r.rollout),
      plan: r.plan ?? (await this.rollouts.planOf(r.rollout.id)),
    };
  }

  @Get()
  async list(@Query() q: RawQuery) {
    const parsed = parseListQuery(q);
    if (!parsed.ok) throw new RolloutRequestError(400, parsed.problems);
    try {
      const page = await this.rollouts.list(parsed.value);
      return { items: page.items.map(rolloutSummary), nextCursor: page.nextCursor };
    } catch (e) {
      if (e instanceof InvalidCursorError)
        throw new RolloutRequestError(400, [`cursor: ${e.message}`]);
      throw e;
    }
  }

  @Get(':id')
  async get(@Param('id') id: string) {
    const r = await this.rollouts.get(id);
    return rolloutView(r, await this.rollouts.planOf(id), Date.now(), this.rollouts.observed());
  }

  @Get(':id/events')
  async events(@Param('id') id: string, @Query('after') after?: string) {
    await this.rollouts.get(id);
    if (after !== undefined && !EVENT_ID.test(after))
      throw new RolloutRequestError(400, ['after: an event id (1-18 digits)']);
    const items = await this.rollouts.events(id, after);
    return {
      items: items.map((e) => ({
        id: e.id,
        at: e.at.toISOString(),
        type: e.type,
        message: e.message,
        data: e.data ?? undefined,
      })),
    };
  }

  @Post(':id/pause')
  @HttpCode(200)
  pause(@Param('id') id: string, @Body() body: unknown) {
    return this.control(id, 'pause', body);
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(@Param('id') id: string, @Body() body: unknown) {
    return this.control(id, 'resume', body);
  }

  @Post(':id/abort')
  @HttpCode(200)
  abort(@Param('id') id: string, @Body() body: unknown) {
    return this.control(id, 'abort', body);
  }

  private async control(id: string, kind: 'pause' | 'resume' | 'abort', body: unknown) {
    const parsed = validate(ControlBody, body ?? {});
    if (!parsed.ok) throw new RolloutRequestError(400, parsed.reason.split('; '));
    const event = kind === 'resume' ? { kind } : { kind, reason: parsed.value.reason };
    const state = await this.rollouts.control(id, event);
    return { id, status: state.status, reason: state.reason };
  }
}
