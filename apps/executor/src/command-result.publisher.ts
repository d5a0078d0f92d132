/**
 * Publishes CommandResultMessages to `rollout.command-results`, keyed by the rollout id (the
 * results of one rollout stay in order). Each value is validated against its contract before it
 * leaves (encodeMessage). `acks: -1`: the consumer commits the command's offset only after this
 * resolves, so a result acknowledged here survives a broker failover.
 */
import type { Producer } from 'kafkajs';
import {
  CommandResultMessageSchema,
  commandResultKey,
  encodeMessage,
  type CommandResultMessage,
} from '@ringmaster/contracts';
import type { ResultSink } from './command.message.handler';

export class CommandResultPublisher implements ResultSink {
  private connected = false;

  constructor(
    private readonly producer: Producer,
    /** The results topic under the configured prefix (KafkaSettings.topics.commandResults). */
    readonly topic: string,
  ) {
    producer.on(producer.events.CONNECT, () => (this.connected = true));
    producer.on(producer.events.DISCONNECT, () => (this.connected = false));
  }

  /** For readiness: the producer has connected and not disconnected since. */
  isConnected(): boolean {
    return this.connected;
  }

  async publish(result: CommandResultMessage): Promise<void> {
    const value = encodeMessage(CommandResultMessageSchema, result);
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key: commandResultKey(result), value }],
    });
  }
}
