/**
 * `GET /readyz`: 200 once every watch has delivered its first list and the Kafka producer is
 * connected (and not failing to send); otherwise 503 listing what is missing, e.g.
 *
 *   { "ready": false,
 *     "missing": ["watch kwok-ringmaster-1/mimir pods: not synced", "kafka: producer not connected"],
 *     "kafka": { "connected": false, "publisher": { "pending": 31, ... }, "topicsReadBack": false },
 *     "watches": [ { "target": "kwok-ringmaster-1/mimir", "kind": "pods", "synced": false, ... } ] }
 *
 * Liveness is `GET /healthz` (service-kit's HealthModule): the process answers HTTP.
 */
import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { HealthWatcherService, type Readiness } from './health-watcher.service';

@Controller()
export class ReadinessHttpController {
  constructor(private readonly watcher: HealthWatcherService) {}

  @Get('readyz')
  readyz(): Readiness {
    const r = this.watcher.readiness();
    if (!r.ready) throw new ServiceUnavailableException(r);
    return r;
  }
}
