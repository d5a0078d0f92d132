/** kafkajs clients built from KafkaSettings, with the defaults Ringmaster relies on. */
import { Kafka, Partitioners, type Producer, type ProducerConfig } from 'kafkajs';
import { toKafkaConfig, type KafkaSettings } from './kafka.config';

export function createKafka(settings: KafkaSettings): Kafka {
  return new Kafka(toKafkaConfig(settings));
}

/**
 * A producer that never creates topics by accident (ensureTopics does, with the right configs)
 * and partitions by key the way the Java client does (murmur2), so a key maps to the same
 * partition whichever client produced it.
 */
export function createProducer(kafka: Kafka, config: ProducerConfig = {}): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
    ...config,
  });
}
