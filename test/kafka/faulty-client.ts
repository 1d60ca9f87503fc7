/**
 * Fault injection for the Kafka integration tests through the adapter's client port: the real
 * driver under test (kafkajs or platformatic, helpers.ts testDriver), wrapped so a test can freeze commits (a member that "crashes" without
 * committing again) or make a batch throw a non-retriable error (kafkajs then crashes the
 * consumer without restarting it). The broker is always the real one.
 */
import type { GroupConsumerPort, KafkaClientPort } from '../../src/eventbus/kafka/port.js';
import { loadTestDriver } from './driver.js';

/** Switches of a {@link faultyClient}. */
export interface Faults {
  /** Every commit rejects (nothing more reaches the group) while true. */
  freezeCommits: boolean;
  /** The next batch handed to the subscription throws this error instead (then resets). */
  throwInNextBatch: Error | undefined;
  /** Group consumers created so far (a re-created member counts again). */
  consumersCreated: number;
  /** Which consumers the faults hit: the subscriptions' (default) or the delay relays'. */
  target: 'subscriptions' | 'relays';
}

/** The driver under test behind switchable faults. */
export async function faultyClient(clientId: string): Promise<{ client: KafkaClientPort; faults: Faults }> {
  const inner = await loadTestDriver(clientId);
  const faults: Faults = { freezeCommits: false, throwInNextBatch: undefined, consumersCreated: 0, target: 'subscriptions' };
  const client: KafkaClientPort = {
    producer: () => inner.producer(),
    admin: () => inner.admin(),
    readRanges: (topic, ranges, timeoutMs) => inner.readRanges(topic, ranges, timeoutMs),
    groupConsumer(settings) {
      const c = inner.groupConsumer(settings);
      const isRelay = settings.groupId.startsWith('jobbus.relay.');
      if (isRelay !== (faults.target === 'relays')) return c;
      faults.consumersCreated++;
      const wrapped: GroupConsumerPort = {
        start: (handlers) =>
          c.start({
            ...handlers,
            onBatch: async (batch, control) => {
              const err = faults.throwInNextBatch;
              if (err) {
                faults.throwInNextBatch = undefined;
                throw err;
              }
              await handlers.onBatch(batch, control);
            },
          }),
        pause: (topic, partitions) => c.pause(topic, partitions),
        resume: (topic, partitions) => c.resume(topic, partitions),
        commit: async (offsets) => {
          if (faults.freezeCommits) throw new Error('injected: commits frozen');
          await c.commit(offsets);
        },
        committed: (topic) => c.committed(topic),
        stop: () => c.stop(),
      };
      return wrapped;
    },
  };
  return { client, faults };
}
