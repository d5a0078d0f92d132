/**
 * Sends a message a consumer gave up on to the dead-letter topic, with the reason, where it came
 * from, and (a truncated copy of) the original value. Keyed by the original key, so one key's
 * dead letters stay in order. Waits for all in-sync replicas (acks -1): the consumer commits the
 * original only after this resolves, so a dead letter is never lost in between.
 */
import type { Producer } from 'kafkajs';
import {
  TOPICS,
  toDeadLetterMessage,
  type DeadLetterInput,
  type DeadLetterMessage,
} from '@ringmaster/contracts';

export interface DeadLetterPublisherOptions {
  /** Default `ringmaster.dead-letter` (use KafkaSettings.topics.deadLetter under a prefix). */
  topic?: string;
  /** Epoch ms; injectable for tests. */
  clock?: () => number;
}

export type DeadLetterRequest = Omit<DeadLetterInput, 'at'> & { at?: number };

export class DeadLetterPublisher {
  readonly topic: string;
  private readonly clock: () => number;

  constructor(
    private readonly producer: Producer,
    options: DeadLetterPublisherOptions = {},
  ) {
    this.topic = options.topic ?? TOPICS.deadLetter;
    this.clock = options.clock ?? Date.now;
  }

  /** Resolves once the broker has the dead letter; rejects (retriable) if it couldn't be written. */
  async publish(request: DeadLetterRequest): Promise<DeadLetterMessage> {
    const message = toDeadLetterMessage({ ...request, at: request.at ?? this.clock() });
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        {
          key: request.key ?? null,
          value: JSON.stringify(message),
          // A header too, so tools can filter without parsing the value.
          headers: { 'ringmaster-source-topic': request.sourceTopic },
        },
      ],
    });
    return message;
  }
}
