import 'reflect-metadata';
import { INestApplication, Logger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';

/** Largest JSON body accepted (HTTP_BODY_LIMIT): a bigger one is refused with 413, never parsed. */
export const DEFAULT_BODY_LIMIT = '256kb';

/**
 * Starts a Ringmaster service: HTTP on 127.0.0.1 (PORT overrides the default), a JSON body
 * limit, shutdown hooks so SIGTERM closes consumers and connections before exit. A start-up failure (bad config,
 * unreachable dependency) ends the process with the reason instead of leaving it half up.
 */
export async function bootstrapService(
  module: Type<unknown>,
  defaultPort: number,
  configure?: (app: INestApplication) => void,
): Promise<INestApplication | undefined> {
  try {
    const app = await NestFactory.create<NestExpressApplication>(module, {
      bufferLogs: false,
      abortOnError: false,
      bodyParser: false,
    });
    app.useBodyParser('json', { limit: process.env.HTTP_BODY_LIMIT ?? DEFAULT_BODY_LIMIT });
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
