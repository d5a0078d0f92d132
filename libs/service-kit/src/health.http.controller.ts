import { Controller, Get, Inject } from '@nestjs/common';

/** Injection token for the name a service reports on `GET /healthz`. */
export const SERVICE_NAME = Symbol('SERVICE_NAME');

/** Liveness: answers as soon as the process serves HTTP. Readiness is each service's own. */
@Controller()
export class HealthHttpController {
  constructor(@Inject(SERVICE_NAME) private readonly service: string) {}

  @Get('healthz')
  healthz(): { status: 'ok'; service: string } {
    return { status: 'ok', service: this.service };
  }
}
