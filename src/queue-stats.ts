/**
 * Queue stats for the face ({@link Jobbus.stats}): a queue's counts for the application's
 * consumer group and the size of its DLQ, read from the bus alone (no tracking store).
 */
import { NotInitializedError } from './errors.js';
import { hasTopicStats, type EventBus } from './eventbus/types.js';
import { dlqNameOf, type QueueNames } from './jobs/queue-names.js';

/** One queue's counts as its bus tells them; a count the bus cannot tell is absent. */
export interface QueueStats {
  /** The queue. */
  readonly queue: string;
  /** The consumer group the counts are for. */
  readonly group: string;
  /** Jobs waiting to be taken by the group, retries due included; where `inFlight` is absent, those too (Kafka: consumer lag). */
  readonly waiting: number;
  /** Jobs delivered to a worker of the group and not yet settled, when the bus can tell. */
  readonly inFlight?: number;
  /** Jobs (and retries) published to run later and not yet due, when the bus can tell. */
  readonly delayed?: number;
  /** When the oldest waiting job was published, when the bus can tell cheaply. */
  readonly oldestWaitingAt?: Date;
  /** The queue's dead-letter queue. */
  readonly dlq: string;
  /** Dead letters the DLQ holds. */
  readonly dlqSize: number;
  /** Whether the queue is paused for the group (`jobs.pause`); absent when the bus cannot tell (cannot browse). */
  readonly paused?: boolean;
}

/** The stats of `queues` on `bus` for `group`; a bus without the capability fails with a clear error. */
export async function queueStatsOf(bus: EventBus, names: QueueNames, group: string, queues: readonly string[]): Promise<QueueStats[]> {
  if (!hasTopicStats(bus)) {
    throw new NotInitializedError('this bus cannot tell its queue stats (it does not implement topicStats)');
  }
  return Promise.all(
    queues.map(async (queue) => {
      const dlq = dlqNameOf(names, queue);
      const [own, dead] = await Promise.all([bus.topicStats(queue, group), bus.topicStats(dlq, group)]);
      return {
        queue,
        group,
        waiting: own.waiting,
        ...(own.inFlight !== undefined && { inFlight: own.inFlight }),
        ...(own.delayed !== undefined && { delayed: own.delayed }),
        ...(own.oldestWaitingAt !== undefined && { oldestWaitingAt: own.oldestWaitingAt }),
        dlq,
        dlqSize: dead.retained,
      };
    }),
  );
}
