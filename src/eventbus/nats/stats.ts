/**
 * {@link QueueStatsBus} on NATS, from the server alone: the group's durable consumer tells what
 * waits (`num_pending`) and what is delivered and not yet acked (`num_ack_pending`, naks waiting
 * out their delay included); the topic's delay stream holds the delayed messages; the queue
 * stream's message count is what it retains (for a DLQ: its size). Never creates a stream or
 * consumer: a missing one counts as empty (a group without a consumer: the stream's messages wait).
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { QueueStatsBus, TopicStats } from '../types.js';
import type { JetStreamModule } from './modules.js';
import type { NameMapper } from './names.js';
import { unavailable } from './unavailable.js';

/** What {@link createTopicStats} needs. */
export interface StatsDeps {
  readonly jsm: JetStreamManager;
  readonly jsmod: JetStreamModule;
  readonly names: NameMapper;
  /** Throws a ClosedError once the bus is closed. */
  assertOpen(): void;
}

/** The bus's {@link QueueStatsBus} side. */
export function createTopicStats(d: StatsDeps): QueueStatsBus {
  const { jsm, jsmod, names } = d;
  const codeOf = (err: unknown): number | undefined => (err instanceof jsmod.JetStreamApiError ? err.code : undefined);
  /** `read()`, or `undefined` when the server says the stream or consumer does not exist. */
  async function unlessMissing<T>(read: () => Promise<T>, what: string): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      const code = codeOf(err);
      if (code === jsmod.JetStreamApiCodes.StreamNotFound || code === jsmod.JetStreamApiCodes.ConsumerNotFound) return undefined;
      throw unavailable(`cannot read ${what}`, err);
    }
  }

  return {
    async topicStats(topic, group): Promise<TopicStats> {
      d.assertOpen();
      const stream = names.streamOf(topic);
      const durable = names.durableOf(group);
      const [info, consumer, delay] = await Promise.all([
        unlessMissing(() => jsm.streams.info(stream), `stream ${stream}`),
        unlessMissing(() => jsm.consumers.info(stream, durable), `consumer ${durable} on ${stream}`),
        unlessMissing(() => jsm.streams.info(`${stream}_DELAY`), `stream ${stream}_DELAY`),
      ]);
      const retained = info?.state.messages ?? 0;
      return {
        topic,
        group,
        waiting: consumer ? consumer.num_pending : retained,
        inFlight: consumer?.num_ack_pending ?? 0,
        delayed: delay?.state.messages ?? 0,
        retained,
      };
    },
  };
}
