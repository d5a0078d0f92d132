export * from './health.http.controller';
export * from './health.module';
export * from './bootstrap';
