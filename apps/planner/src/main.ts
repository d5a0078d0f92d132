import { bootstrapService } from '@ringmaster/service-kit';
import { HttpErrorsFilter } from './http-errors.filter';
import { PlannerModule } from './planner.module';

void bootstrapService(PlannerModule, 8080, (app) => app.useGlobalFilters(new HttpErrorsFilter()));
