import { bootstrapService } from '@ringmaster/service-kit';
import { HealthWatcherModule } from './health-watcher.module';

void bootstrapService(HealthWatcherModule, 8082);
