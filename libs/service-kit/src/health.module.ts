import { DynamicModule, Module } from '@nestjs/common';
import { HealthHttpController, SERVICE_NAME } from './health.http.controller';

/** `HealthModule.forService('planner')` serves `GET /healthz` for that service. */
@Module({})
export class HealthModule {
  static forService(name: string): DynamicModule {
    return {
      module: HealthModule,
      controllers: [HealthHttpController],
      providers: [{ provide: SERVICE_NAME, useValue: name }],
    };
  }
}
