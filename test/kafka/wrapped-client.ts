/**
 * Fault injection and observation through the Kafka client port (never a mock broker): the real
 * driver under test (kafkajs or platformatic, helpers.ts testDriver), with hooks around the group consumers and the producer.
 */
import type { GroupConsumerPort, GroupConsumerSettings, KafkaClientPort, OffsetRange, PartitionRecord, ProduceRecord } from '../../src/eventbus/kafka/index.js';
import { loadTestDriver } from './driver.js';

/** Hooks of {@link wrappedClient}. */
export interface ClientHooks {
  /** Wrap a group consumer (e.g. make `resume` throw, count pause/resume). */
  consumer?(settings: GroupConsumerSettings, inner: GroupConsumerPort): GroupConsumerPort;
  /** Observe a produce request before it is sent. */
  beforeSend?(topic: string, records: readonly ProduceRecord[]): void;
  /** Observe a readRanges call. */
  onRead?(topic: string, ranges: readonly OffsetRange[], result: readonly PartitionRecord[]): void;
}

/** The driver under test against the test broker, wrapped by `hooks`. */
export async function wrappedClient(hooks: ClientHooks): Promise<KafkaClientPort> {
  const base = await loadTestDriver('jobbus-test-wrapped');
  return {
    ...base,
    async producer() {
      const p = await base.producer();
      return {
        ...p,
        send(topic, records) {
          hooks.beforeSend?.(topic, records);
          return p.send(topic, records);
        },
      };
    },
    groupConsumer(settings) {
      const inner = base.groupConsumer(settings);
      return hooks.consumer ? hooks.consumer(settings, inner) : inner;
    },
    async readRanges(topic, ranges, timeoutMs) {
      const result = await base.readRanges(topic, ranges, timeoutMs);
      hooks.onRead?.(topic, ranges, result);
      return result;
    },
  };
}
