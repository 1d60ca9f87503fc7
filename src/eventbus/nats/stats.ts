/**
 * {@link QueueStatsBus} on NATS, from the server alone: the group's durable consumer tells what
 * waits (`num_pending`) and what is delivered and not yet acked (`num_ack_pending`, naks waiting
 * out their delay included); the topic's delay stream holds the delayed messages; the queue
 * stream's message count is what it retains (for a DLQ: its size); the oldest waiting message is
 * the one after the consumer's delivered sequence (one read). Never creates a stream or
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

  /**
   * When the message at `seq` (the group's next undelivered one: a queue stream has one subject)
   * was stored; one read. Undefined when it is gone (removed from a DLQ): not worth a scan.
   */
  async function nextStored(stream: string, seq: number): Promise<string | Date | undefined> {
    try {
      return (await jsm.streams.getMessage(stream, { seq }))?.time;
    } catch (err) {
      if (codeOf(err) === jsmod.JetStreamApiCodes.NoMessageFound) return undefined;
      throw unavailable(`cannot read message ${seq} of ${stream}`, err);
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
      const waiting = consumer ? consumer.num_pending : retained;
      const oldest = waiting === 0 ? undefined : consumer ? await nextStored(stream, consumer.delivered.stream_seq + 1) : info?.state.first_ts;
      return {
        topic,
        group,
        waiting,
        inFlight: consumer?.num_ack_pending ?? 0,
        delayed: delay?.state.messages ?? 0,
        retained,
        ...(oldest !== undefined && { oldestWaitingAt: new Date(oldest) }),
      };
    },
  };
}
