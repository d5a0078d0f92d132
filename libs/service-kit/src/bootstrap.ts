import 'reflect-metadata';
import { INestApplication, Logger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/**
 * Starts a Ringmaster service: HTTP on 127.0.0.1 (PORT overrides the default), shutdown hooks
 * so SIGTERM closes consumers and connections before exit. A start-up failure (bad config,
 * unreachable dependency) ends the process with the reason instead of leaving it half up.
 */
export async function bootstrapService(
  module: Type<unknown>,
  defaultPort: number,
  configure?: (app: INestApplication) => void,
): Promise<INestApplication | undefined> {
  try {
    const app = await NestFactory.create(module, { bufferLogs: false, abortOnError: false });
    app.enableShutdownHooks();
    configure?.(app);
    const port = Number(process.env.PORT ?? defaultPort);
    await app.listen(port, process.env.HOST ?? '127.0.0.1');
    return app;
  } catch (e) {
    new Logger('Bootstrap').error(`failed to start: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
    return undefined;
  }
}
