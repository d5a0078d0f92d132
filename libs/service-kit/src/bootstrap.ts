import 'reflect-metadata';
import { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/**
 * Starts a Ringmaster service: HTTP on 127.0.0.1 (PORT overrides the default), shutdown hooks
 * so SIGTERM closes consumers and connections before exit.
 */
export async function bootstrapService(module: Type<unknown>, defaultPort: number): Promise<INestApplication> {
  const app = await NestFactory.create(module, { bufferLogs: false });
  app.enableShutdownHooks();
  const port = Number(process.env.PORT ?? defaultPort);
  await app.listen(port, process.env.HOST ?? '127.0.0.1');
  return app;
}
