import { Test } from '@nestjs/testing';
import request from 'supertest';
import { HealthModule } from '@ringmaster/service-kit';
import { CommandConsumer, type Readiness } from './command.consumer';
import { ExecutorHttpController } from './executor.http.controller';

describe('GET /readyz, /healthz', () => {
  it('503 with what is missing, 200 once joined and connected; /healthz always 200', async () => {
    let readiness: Readiness = {
      ready: false,
      missing: ['consumer is not a member of group ringmaster-executor'],
    };
    const moduleRef = await Test.createTestingModule({
      imports: [HealthModule.forService('executor')],
      controllers: [ExecutorHttpController],
      providers: [{ provide: CommandConsumer, useValue: { readiness: () => readiness } }],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const http = app.getHttpServer();
    await request(http)
      .get('/readyz')
      .expect(503, {
        status: 'not-ready',
        missing: ['consumer is not a member of group ringmaster-executor'],
      });
    await request(http).get('/healthz').expect(200, { status: 'ok', service: 'executor' });
    readiness = { ready: true, missing: [] };
    await request(http).get('/readyz').expect(200, { status: 'ready' });
    await app.close();
  });
});
