/**
 * Handler combinators for ConsumerRunner: parse the value with its contract before the
 * handler sees it, so an invalid message becomes a PermanentError whose message is the parse
 * reason (`targets.0.cluster: Required`) and lands in the dead-letter topic with it.
 *
 *   new ConsumerRunner({ ..., handler: routeByTopic({
 *     [topics.requests]: schemaHandler(RolloutRequestEventSchema, (req, m) => planner.request(req)),
 *     [topics.pods]: compactedHandler(PodStateMessageSchema, (pod, m) => pod ? upsert(pod) : forget(m.key)),
 *   }) })
 */
import type { z } from 'zod';
import { parseCompacted, parseMessage } from '@ringmaster/contracts';
import type { InboundMessage, MessageHandler } from './consumer.runner';
import { PermanentError } from './messaging.errors';

/** Parses the value (envelope, version, schema); invalid -> PermanentError with the reason. */
export function schemaHandler<S extends z.ZodTypeAny>(
  schema: S,
  handle: (value: z.output<S>, message: InboundMessage) => Promise<void>,
): MessageHandler {
  return async (message) => {
    const r = parseMessage(schema, message.value);
    if (!r.ok) throw new PermanentError(r.reason);
    await handle(r.value, message);
  };
}

/** For compacted topics: a null value (tombstone) reaches the handler as null. */
export function compactedHandler<S extends z.ZodTypeAny>(
  schema: S,
  handle: (value: z.output<S> | null, message: InboundMessage) => Promise<void>,
): MessageHandler {
  return async (message) => {
    const r = parseCompacted(schema, message.value);
    if (!r.ok) throw new PermanentError(r.reason);
    await handle(r.value, message);
  };
}

/** One handler per topic; a message from any other topic is a PermanentError. */
export function routeByTopic(handlers: Record<string, MessageHandler>): MessageHandler {
  return async (message) => {
    const h = handlers[message.topic];
    if (!h) throw new PermanentError(`no handler for topic ${message.topic}`);
    await h(message);
  };
}
