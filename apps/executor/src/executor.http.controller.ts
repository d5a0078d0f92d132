import { Controller, Get, HttpException, HttpStatus } from '@nestjs/common';
import { CommandConsumer } from './command.consumer';

/**
 * `GET /readyz`: 200 when this executor can take commands (a member of the consumer group, its
 * result producer connected); 503 with what is missing otherwise. Liveness is `GET /healthz`
 * (HealthModule).
 */
@Controller()
export class ExecutorHttpController {
  constructor(private readonly consumer: CommandConsumer) {}

  @Get('readyz')
  readyz(): { status: 'ready' } {
    const r = this.consumer.readiness();
    if (!r.ready)
      throw new HttpException(
        { status: 'not-ready', missing: r.missing },
        HttpStatus.SERVICE_UNAVAILABLE,
      );
    return { status: 'ready' };
  }
}
