import { bootstrapService } from '@ringmaster/service-kit';
import { authenticate } from './auth/access.guard';
import { TokenStore } from './auth/token.store';
import { answerClientErrors } from './client-error';
import { HttpErrorsFilter } from './http-errors.filter';
import { plannerConfigFromEnv } from './planner.config';
import { PlannerModule } from './planner.module';
import { rateLimit } from './rate-limit.middleware';

const config = plannerConfigFromEnv();
void bootstrapService(PlannerModule, 8080, (app) => {
  app.use(authenticate(app.get(TokenStore)));
  app.use(rateLimit(config.rateLimitRps, config.rateLimitBurst));
  app.useGlobalFilters(new HttpErrorsFilter());
  answerClientErrors(app.getHttpServer());
});
