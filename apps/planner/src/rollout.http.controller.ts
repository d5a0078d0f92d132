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
 * names the field (`targets.0.cluster: Required`). Every route needs a bearer token
 * (auth/access.guard.ts); a caller sees and acts only on rollouts whose every target its scopes
 * allow: `read` to see or plan, `roll` to create, pause, resume or abort.
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
import { authorize, Caller } from './auth/access.guard';
import { allows } from './auth/access.scope';
import type { Principal } from './auth/token.store';
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
    @Caller() who: Principal,
    @Body() body: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new RolloutRequestError(400, ['Idempotency-Key: 1-200 visible ASCII characters']);
    }
    const parsed = validate(RolloutRequestSchema, body ?? {});
    if (!parsed.ok) throw new RolloutRequestError(400, parsed.reason.split('; '));
    authorize(who, parsed.value.dryRun ? 'read' : 'roll', parsed.value.targets);
    const r = await this.rollouts.create(parsed.value, {
      idempotencyKey: key,
      requestedBy: who.name,
    });
    if (r.kind === 'dry-run') {
      res.status(HttpStatus.OK);
      return { dryRun: true, plan: r.plan };
    }
    res.status(r.kind === 'created' ? HttpStatus.CREATED : HttpStatus.OK);
    // The key may be another caller's: show its rollout only to who may see it.
    if (r.kind === 'existing') {
      authorize(who, 'read', r.rollout.targets);
      res.setHeader('Idempotent-Replayed', 'true');
    }
    res.setHeader('Location', `/v1/rollouts/${r.rollout.id}`);
    return {
      ...rolloutSummary(r.rollout),
      plan: r.plan ?? (await this.rollouts.planOf(r.rollout.id)),
    };
  }

  @Get()
  async list(@Caller() who: Principal, @Query() q: RawQuery) {
    const parsed = parseListQuery(q);
    if (!parsed.ok) throw new RolloutRequestError(400, parsed.problems);
    try {
      const page = await this.rollouts.list(parsed.value);
      // Filtered after paging, so a page may hold fewer than `limit`: follow nextCursor.
      const visible = page.items.filter((r) =>
        r.targets.every((t) => allows(who.scopes, 'read', t)),
      );
      return { items: visible.map(rolloutSummary), nextCursor: page.nextCursor };
    } catch (e) {
      if (e instanceof InvalidCursorError)
        throw new RolloutRequestError(400, [`cursor: ${e.message}`]);
      throw e;
    }
  }

  @Get(':id')
  async get(@Caller() who: Principal, @Param('id') id: string) {
    const r = await this.rollouts.get(id);
    authorize(who, 'read', r.targets);
    return rolloutView(r, await this.rollouts.planOf(id), Date.now(), this.rollouts.observed());
  }

  @Get(':id/events')
  async events(@Caller() who: Principal, @Param('id') id: string, @Query('after') after?: string) {
    authorize(who, 'read', (await this.rollouts.get(id)).targets);
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
  pause(@Caller() who: Principal, @Param('id') id: string, @Body() body: unknown) {
    return this.control(who, id, 'pause', body);
  }

  @Post(':id/resume')
  @HttpCode(200)
  resume(@Caller() who: Principal, @Param('id') id: string, @Body() body: unknown) {
    return this.control(who, id, 'resume', body);
  }

  @Post(':id/abort')
  @HttpCode(200)
  abort(@Caller() who: Principal, @Param('id') id: string, @Body() body: unknown) {
    return this.control(who, id, 'abort', body);
  }

  private async control(
    who: Principal,
    id: string,
    kind: 'pause' | 'resume' | 'abort',
    body: unknown,
  ) {
    const parsed = validate(ControlBody, body ?? {});
    if (!parsed.ok) throw new RolloutRequestError(400, parsed.reason.split('; '));
    authorize(who, 'roll', (await this.rollouts.get(id)).targets);
    const event = kind === 'resume' ? { kind } : { kind, reason: parsed.value.reason };
    const state = await this.rollouts.control(id, event);
    return { id, status: state.status, reason: state.reason };
  }
}
