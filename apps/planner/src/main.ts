import { bootstrapService } from '@ringmaster/service-kit';
import { PlannerModule } from './planner.module';

void bootstrapService(PlannerModule, 8080);
