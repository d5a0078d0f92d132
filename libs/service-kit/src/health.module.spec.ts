import { Test } from '@nestjs/testing';
import request from 'supertest';
import { HealthModule } from './health.module';

describe('GET /healthz', () => {
  it('answers 200 with the service name it was given', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [HealthModule.forService('planner')],
    }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    await request(app.getHttpServer())
      .get('/healthz')
      .expect(200, { status: 'ok', service: 'planner' });
    await app.close();
  });
});
