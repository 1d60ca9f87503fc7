import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { defaultLogger } from '../jobs/logger.js';
import {
  ClosedError,
  ConflictError,
  DecodeError,
  describeError,
  InvalidArgumentError,
  isRefusedForGood,
  PublishRejectedError,
} from '../errors.js';
import { DEFAULTS } from '../jobs/config.js';
import { dlqNameOf, queueNamesOf, type QueueNames } from '../jobs/queue-names.js';
import type { DeadLettering, DeadLetteringCounters, Job, Runtime, RuntimeHandler, RuntimeSubscribeOptions } from '../jobs/types.js';
import { JobSettledElsewhere, RedeliverJob } from '../jobs/outcome.js';
import { decodeJob, encodeJob } from '../headers/codec.js';
import { deadLetterMessage, failureHeadroomBytes, MINIMAL_REASON_BYTES } from '../headers/dead-letter.js';
import type { Delivery, EventBus, Message, Subscription } from '../eventbus/types.js';
import { DeliveryTerminated, RedeliverAfter } from '../eventbus/types.js';
import { headerBytes, messageBytes } from '../eventbus/message-size.js';
import { settleRetryDelayMs } from '../jobs/settle-retry.js';

/** Options of {@link createEventBusBridge}. */
export interface EventBusBridgeOptions {
  /** How DLQs are named; give the DLQ store the same. Default: queue + `.dlq`. */
  readonly names?: QueueNames;
  /** Close the bus when the bridge is closed. Default true. */
  readonly ownsBus?: boolean;
  /** Logger; default: pino at level `JOBBUS_LOG_LEVEL` or `warn`. */
  readonly logger?: Logger;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/** Counters of what the bridge could not do; a non-zero value deserves an alert. */
export type BridgeCounters = DeadLetteringCounters;

/** The jobs {@link Runtime} over any {@link EventBus}, with {@link DeadLettering} (to the DLQs `names` makes). */
export interface EventBusBridge extends Runtime, DeadLettering {
  /** The bus underneath. */
  readonly bus: EventBus;
  /** How this bridge names DLQs. */
  readonly names: QueueNames;
}

/** The bus signal for a runtime handler's rejection: the contract's outcomes translated, anything else as it is. */
function busSignalOf(err: unknown): unknown {
  if (err instanceof RedeliverJob) return new RedeliverAfter(err.delayMs, err.message);
  if (err instanceof JobSettledElsewhere) return new DeliveryTerminated(err.message);
  return err;
}

/** At least {@link headerBytes} of `m`, without encoding anything. */
function upperBoundHeaderBytes(m: Message): number {
  let n = 3 * (m.key?.length ?? 0);
  for (const k in m.headers) n += 3 * (k.length + m.headers[k]!.length) + 4;
  return n;
}

/** Reject with the bus signal of a runtime handler's rejection (see {@link busSignalOf}). */
function rejectAsBusSignal(err: unknown): never {
  throw busSignalOf(err);
}

/** At least {@link messageBytes} of `m`, without encoding anything. */
function upperBoundBytes(m: Message): number {
  let n = m.value.byteLength + 3 * (m.key?.length ?? 0);
  for (const k in m.headers) n += 3 * (k.length + m.headers[k]!.length);
  return n;
}

/** Broker-side dedup id of a first enqueue: a true duplicate (the same enqueue sent twice) is dropped. */
function enqueueDedupId(job: Job): string {
  return `${job.id}|${job.attempt}|${job.runAt.getTime()}`;
}

/** Dedup id of a copy: unique per publish, so it can never collide with the message it replaces (L1). */
function copyDedupId(job: Job): string {
  return `${job.id}|${job.attempt}|${job.runAt.getTime()}|${randomUUID()}`;
}


/**
 * Jobs over an event bus. Enqueue encodes the job (`job_*` headers, partition key) and
 * publishes it, delayed until `runAt` when that is in the future. Subscribe decodes each
 * message; an undecodable one is a poison message and goes to the DLQ with its bytes and
 * headers and the reason, and a job that arrives before its `runAt` (from a producer that
 * did not delay it) is handed back to the bus until it is due — neither costs an attempt.
 * A handler's `RedeliverJob` and `JobSettledElsewhere` (jobs/outcome.ts) become the bus's
 * `RedeliverAfter` and `DeliveryTerminated` here, and nowhere else above the bus.
 */
export function createEventBusBridge(bus: EventBus, options: EventBusBridgeOptions = {}): EventBusBridge {
  const names = queueNamesOf(options.names);
  const ownsBus = options.ownsBus ?? true;
  const logger = options.logger ?? defaultLogger();
  const now = options.now ?? Date.now;
  const subscriptions = new Map<string, Subscription>();
  let closed = false;
  let deadLetterRefused = 0;

  function assertOpen(): void {
    if (closed) throw new ClosedError('jobs runtime is closed');
  }

  /**
   * Encode a job for its first enqueue. Where the bus knows its size limits (the whole message,
   * the header block), a job is refused unless its retry and dead-letter copies (which add
   * bounded failure headers) fit too: a job that was accepted can then always be retried and
   * dead-lettered (S1).
   */
  function encodeForEnqueue(job: Job): Message {
    const message = encodeJob(job);
    const max = bus.maxMessageBytes;
    // Cheap first: a UTF-16 code unit is at most 3 UTF-8 bytes, so most jobs need no exact count.
    if (max !== undefined && upperBoundBytes(message) + failureHeadroomBytes(3 * job.queue.length) > max) {
      const size = messageBytes(message);
      const headroom = failureHeadroomBytes(Buffer.byteLength(job.queue));
      if (size + headroom > max) {
        throw new PublishRejectedError(
          job.queue,
          `job ${job.id} is ${size} bytes; the broker takes ${max}, and ${headroom} must stay free for the headers of its retry and dead-letter copies: make the payload at most ${Math.max(0, max - headroom - (size - job.payload.byteLength))} bytes`,
        );
      }
    }
    const maxHeaders = bus.maxHeaderBytes;
    if (maxHeaders !== undefined && upperBoundHeaderBytes(message) + failureHeadroomBytes(3 * job.queue.length) > maxHeaders) {
      const size = headerBytes(message);
      const headroom = failureHeadroomBytes(Buffer.byteLength(job.queue));
      if (size + headroom > maxHeaders) {
        throw new PublishRejectedError(
          job.queue,
          `job ${job.id} has ${size} bytes of headers and key; the broker takes ${maxHeaders}, and ${headroom} must stay free for the headers of its retry and dead-letter copies: make its headers at most ${Math.max(0, maxHeaders - headroom - (size - headerBytes(encodeJob({ ...job, headers: {} }))))} bytes`,
        );
      }
    }
    return message;
  }

  function deliverAtOf(job: Job): Date | undefined {
    return job.runAt.getTime() > now() ? job.runAt : undefined;
  }

  /**
   * Publish a dead-letter copy; if the broker refuses it for good, once more with a minimal
   * reason (a copy then adds only a few dozen bytes to its original). Counts and rethrows
   * when even that is refused.
   */
  async function publishDeadLetter(queue: string, original: Message, reason: string): Promise<void> {
    const dlq = dlqNameOf(names, queue);
    const copy = (maxReasonBytes?: number): Message => deadLetterMessage(original, queue, reason, new Date(now()), maxReasonBytes);
    try {
      await bus.publish(dlq, copy(), { mustStore: true, retain: true });
      return;
    } catch (err) {
      if (!isRefusedForGood(err)) throw err;
      logger.warn({ queue, dlq, err }, 'the DLQ refused the dead-letter copy; trying a copy with a minimal reason');
    }
    try {
      await bus.publish(dlq, copy(MINIMAL_REASON_BYTES), { mustStore: true, retain: true });
    } catch (err) {
      if (isRefusedForGood(err)) deadLetterRefused++;
      throw err;
    }
  }

  /** A message that cannot be decoded (or whose header bytes were not UTF-8) as a DecodeError, else undefined. */
  function poisonReason(message: Message): DecodeError | undefined {
    const invalid = message.invalidHeaders;
    if (invalid && invalid.length > 0) {
      return new DecodeError(invalid[0]!, `header is not valid UTF-8 or not readable by the transport's client (headers: ${invalid.join(', ')})`);
    }
    return undefined;
  }

  /** Dead-letter a poison message; if that fails, hand it back with a growing delay (never a tight loop). */
  async function moveAsidePoison(queue: string, delivery: Delivery, err: unknown): Promise<never> {
    const reason = `decode: ${describeError(err)}`;
    try {
      await publishDeadLetter(queue, delivery.message, reason);
    } catch (publishErr) {
      const delayMs = settleRetryDelayMs(delivery.deliveryCount);
      logger.error(
        { queue, position: delivery.position, reason, err: publishErr, retryInMs: delayMs },
        'poison message could NOT be moved to the DLQ; it stays in the queue and is tried again later',
      );
      throw new RedeliverAfter(delayMs, `poison message not dead-lettered: ${describeError(publishErr)}`);
    }
    logger.warn({ queue, position: delivery.position, err }, 'poison message moved to the DLQ');
    throw new DeliveryTerminated(reason);
  }

  const bridge: EventBusBridge = {
    bus,

    names,

    async enqueue(job) {
      assertOpen();
      const message = encodeForEnqueue(job);
      const deliverAt = deliverAtOf(job);
      await bus.publish(job.queue, message, { ...(deliverAt && { deliverAt }), dedupId: enqueueDedupId(job) });
    },

    async enqueueBatch(jobs) {
      assertOpen();
      // One batch per (queue, due time): the bus delays a whole batch by one deliverAt.
      type Batch = { queue: string; deliverAt: Date | undefined; messages: Message[]; ids: string[] };
      const batches = new Map<string, Batch>();
      let last: Batch | undefined;
      for (const job of jobs) {
        const deliverAt = deliverAtOf(job);
        // Jobs of a bulk enqueue mostly share queue and due time: the previous batch is tried first, without a key.
        let b = last && last.queue === job.queue && last.deliverAt === undefined && deliverAt === undefined ? last : undefined;
        if (!b) {
          const k = `${job.queue}\u0000${deliverAt?.getTime() ?? ''}`;
          b = batches.get(k);
          if (!b) batches.set(k, (b = { queue: job.queue, deliverAt, messages: [], ids: [] }));
        }
        last = b;
        b.messages.push(encodeForEnqueue(job));
        b.ids.push(enqueueDedupId(job));
      }
      for (const b of batches.values()) {
        await bus.publishBatch(b.queue, b.messages, { ...(b.deliverAt && { deliverAt: b.deliverAt }), dedupIds: b.ids });
      }
    },

    async publishCopy(job) {
      assertOpen();
      const message = encodeJob(job);
      const deliverAt = deliverAtOf(job);
      await bus.publish(job.queue, message, { ...(deliverAt && { deliverAt }), dedupId: copyDedupId(job), mustStore: true });
    },

    async deadLetter(job, reason) {
      assertOpen();
      await publishDeadLetter(job.queue, encodeJob(job), reason);
    },

    counters: () => ({ deadLetterRefused }),

    async subscribe(queue, handler: RuntimeHandler, opts: RuntimeSubscribeOptions = {}) {
      assertOpen();
      if (typeof queue !== 'string' || queue.trim() === '') {
        throw new InvalidArgumentError(`queue must be a non-empty string, got ${JSON.stringify(queue)}`);
      }
      if (subscriptions.has(queue)) throw new ConflictError(`queue "${queue}" is already subscribed by this runtime`);
      // Not async: a delivered job costs the handler's promise and one `then`, not an async
      // function's promise and an await on top (each also pays the promise hooks of currentJob).
      const onDelivery = (delivery: Delivery): Promise<void> => {
        let job: Job;
        const at = now();
        try {
          const invalid = poisonReason(delivery.message);
          if (invalid) throw invalid;
          job = decodeJob(delivery.message, queue, at);
          // A job belongs to the queue it was consumed from. A foreign `job_queue` naming another
          // queue would send its retries and dead letter there: out of sight of this queue's
          // workers and DLQ tools, or (a name the bus cannot map) refused forever.
          if (job.queue !== queue) job = { ...job, queue };
        } catch (err) {
          return moveAsidePoison(queue, delivery, err);
        }
        const early = job.runAt.getTime() - at;
        if (early > 0) return Promise.reject(new RedeliverAfter(early, `job ${job.id} is not due for ${early} ms`));
        let handled: Promise<void>;
        try {
          handled = handler(job, delivery); // a Delivery is a DeliveryContext (deliveryCount, working, signal)
        } catch (err) {
          return Promise.reject(busSignalOf(err));
        }
        return Promise.resolve(handled).then(undefined, rejectAsBusSignal);
      };
      const sub = await bus.subscribe(
        queue,
        onDelivery,
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
