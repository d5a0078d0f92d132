import { bootstrapService } from '@ringmaster/service-kit';
import { ExecutorModule } from './executor.module';

void bootstrapService(ExecutorModule, 8081);
