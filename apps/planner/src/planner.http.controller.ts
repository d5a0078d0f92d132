import { Controller, Get, HttpStatus, Res } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { ObservedStateConsumer } from './observed-state.consumer';
import { LeadershipService } from './leadership.service';
import { openApiDocument } from './openapi.document';

/** /readyz and /openapi.json (/healthz comes from HealthModule). */
@Controller()
export class PlannerHttpController {
  private readonly openApi = openApiDocument();

  constructor(
    private readonly ds: DataSource,
    private readonly observed: ObservedStateConsumer,
    private readonly leadership: LeadershipService,
  ) {}

  @Get('openapi.json')
  openapi(): object {
    return this.openApi;
  }

  @Get('readyz')
  async readyz(@Res({ passthrough: true }) res: Response) {
    const missing: string[] = [];
    try {
      await this.ds.query('SELECT 1');
    } catch {
      missing.push('database unreachable');
    }
    if (!this.observed.synced) missing.push('observed state not synced yet');
    res.status(missing.length ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK);
    return {
      status: missing.length ? 'not ready' : 'ready',
      leader: this.leadership.isLeader,
      missing,
    };
  }
}
