import { Module } from '@nestjs/common';
import { HealthModule } from '@ringmaster/service-kit';

@Module({ imports: [HealthModule.forService('planner')] })
export class PlannerModule {}
