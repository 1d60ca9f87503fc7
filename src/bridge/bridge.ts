import type { Logger } from 'pino';
import { defaultLogger } from '../jobs/logger.js';
import { ClosedError, ConflictError, describeError, InvalidArgumentError } from '../jobs/errors.js';
import { DEFAULTS } from '../jobs/config.js';
import type { Job, Runtime, RuntimeHandler, RuntimeSubscribeOptions } from '../jobs/types.js';
import { decodeJob, encodeJob } from '../headers/codec.js';
import { deadLetterMessage } from '../headers/dead-letter.js';
import type { EventBus, Message, Subscription } from '../eventbus/types.js';
import { DeliveryTerminated, RedeliverAfter } from '../eventbus/types.js';

/** Options of {@link createEventBusBridge}. */
export interface EventBusBridgeOptions {
  /** DLQ name = queue + suffix. Default `.dlq`. */
  readonly dlqSuffix?: string;
  /** Close the bus when the bridge is closed. Default true. */
  readonly ownsBus?: boolean;
  /** Logger; default: pino at level `JOBBUS_LOG_LEVEL` or `warn`. */
  readonly logger?: Logger;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/** The jobs {@link Runtime} over any {@link EventBus}, plus dead-lettering. */
export interface EventBusBridge extends Runtime {
  /** The bus underneath. */
  readonly bus: EventBus;
  /** DLQ name of a queue. */
  dlqOf(queue: string): string;
  /** Publish the dead-letter copy of `job` to its queue's DLQ. */
  deadLetter(job: Job, reason: string): Promise<void>;
}


/**
 * Jobs over an event bus. Enqueue encodes the job (`job_*` headers, partition key) and
 * publishes it, delayed until `runAt` when that is in the future. Subscribe decodes each
 * message; an undecodable one is a poison message and goes to the DLQ with its bytes and
 * headers and the reason, and a job that arrives before its `runAt` (from a producer that
 * did not delay it) is handed back to the bus until it is due — neither costs an attempt.
 */
export function createEventBusBridge(bus: EventBus, options: EventBusBridgeOptions = {}): EventBusBridge {
  const dlqSuffix = options.dlqSuffix ?? DEFAULTS.dlq.queueSuffix;
  const ownsBus = options.ownsBus ?? true;
  const logger = options.logger ?? defaultLogger();
  const now = options.now ?? Date.now;
  const subscriptions = new Map<string, Subscription>();
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new ClosedError('jobs runtime is closed');
  }

  function deliverAtOf(job: Job): Date | undefined {
    return job.runAt.getTime() > now() ? job.runAt : undefined;
  }

  async function publishPoison(queue: string, message: Message, reason: string): Promise<void> {
    await bus.publish(queue + dlqSuffix, deadLetterMessage(message, queue, reason, new Date(now())));
  }

  const bridge: EventBusBridge = {
    bus,

    dlqOf: (queue) => queue + dlqSuffix,

    async enqueue(job) {
      assertOpen();
      const message = encodeJob(job);
      const deliverAt = deliverAtOf(job);
      await bus.publish(job.queue, message, deliverAt ? { deliverAt } : undefined);
    },

    async enqueueBatch(jobs) {
      assertOpen();
      // One batch per (queue, due time): the bus delays a whole batch by one deliverAt.
      const batches = new Map<string, { queue: string; deliverAt: Date | undefined; messages: Message[] }>();
      for (const job of jobs) {
        const deliverAt = deliverAtOf(job);
        const k = `${job.queue}\u0000${deliverAt?.getTime() ?? ''}`;
        let b = batches.get(k);
        if (!b) batches.set(k, (b = { queue: job.queue, deliverAt, messages: [] }));
        b.messages.push(encodeJob(job));
      }
      for (const b of batches.values()) {
        await bus.publishBatch(b.queue, b.messages, b.deliverAt ? { deliverAt: b.deliverAt } : undefined);
      }
    },

    async deadLetter(job, reason) {
      assertOpen();
      await bus.publish(job.queue + dlqSuffix, deadLetterMessage(encodeJob(job), job.queue, reason, new Date(now())));
    },

    async subscribe(queue, handler: RuntimeHandler, opts: RuntimeSubscribeOptions = {}) {
      assertOpen();
      if (typeof queue !== 'string' || queue.trim() === '') {
        throw new InvalidArgumentError(`queue must be a non-empty string, got ${JSON.stringify(queue)}`);
      }
      if (subscriptions.has(queue)) throw new ConflictError(`queue "${queue}" is already subscribed by this runtime`);
      const sub = await bus.subscribe(
        queue,
        async (delivery) => {
          let job: Job;
          try {
            job = decodeJob(delivery.message, queue, now());
          } catch (err) {
            const reason = `decode: ${describeError(err)}`;
            logger.warn({ queue, position: delivery.position, err }, 'poison message moved to the DLQ');
            // If the DLQ publish fails this rejects and the bus redelivers: never lost.
            await publishPoison(queue, delivery.message, reason);
            throw new DeliveryTerminated(reason);
          }
          const early = job.runAt.getTime() - now();
          if (early > 0) throw new RedeliverAfter(early, `job ${job.id} is not due for ${early} ms`);
          await handler(job, delivery); // a Delivery is a DeliveryContext (deliveryCount, working)
        },
        {
          group: opts.group ?? DEFAULTS.group,
          ...(opts.maxInFlight !== undefined && { maxInFlight: opts.maxInFlight }),
          ...(opts.ackTimeoutMs !== undefined && { ackTimeoutMs: opts.ackTimeoutMs }),
          ...(opts.ordering !== undefined && { ordering: opts.ordering }),
        },
      );
      subscriptions.set(queue, sub);
    },

    async unsubscribe(queue) {
      const sub = subscriptions.get(queue);
      if (!sub) return;
      subscriptions.delete(queue);
      await sub.close();
    },

    async healthCheck() {
      assertOpen();
      await bus.healthCheck();
    },

    async close() {
      if (closed) return;
      closed = true;
      const subs = [...subscriptions.values()];
      subscriptions.clear();
      await Promise.allSettled(subs.map((s) => s.close()));
      if (ownsBus) await bus.close();
    },
  };
  return bridge;
}

