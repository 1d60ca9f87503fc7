/**
 * The EventBus contract: the small surface every broker adapter (memory, Kafka, NATS)
 * implements, and everything above `src/eventbus/` is written against.
 *
 * Delivery is at-least-once. A subscription hands a message to its handler and holds it
 * until the handler's promise settles: resolved = processed (acknowledged to the broker),
 * rejected = not processed (the bus delivers it again later; a {@link RedeliverAfter}
 * rejection says when).
 */

/** A message as published and delivered. Header values are strings. */
export interface Message {
  /** Partition / ordering key. Messages with equal keys are delivered in order within a group. */
  readonly key?: string;
  /** Message body. */
  readonly value: Uint8Array;
  /** Headers; transports that allow bytes decode them as UTF-8. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Names of headers whose bytes on the wire were not valid UTF-8 (set by adapters on delivery
   * only; the value in `headers` is then a lossy decoding), or, quoted, of header lines the
   * transport's client refuses to read (NATS: a name outside printable ASCII; left out of
   * `headers`). The jobs bridge treats such a message as poison, so a job never runs under a
   * header value that differs per bus.
   */
  readonly invalidHeaders?: readonly string[];
}

/** Options for one published message. */
export interface PublishOptions {
  /** Do not deliver before this instant. The bus persists the wait (never an in-process sleep on brokers). */
  readonly deliverAt?: Date;
  /**
   * Broker-side deduplication id (NATS `Nats-Msg-Id`): a bus that deduplicates stores a second
   * publish with the same id to the same topic within its window only once. Buses without
   * deduplication ignore it. Absent: no deduplication.
   */
  readonly dedupId?: string;
  /**
   * The publish must store a new message. A broker answer "duplicate, not stored" is then an
   * error (a retryable `UnavailableError`), never a success: the caller is about to settle the
   * message this one copies, and a copy that was not stored would lose it.
   */
  readonly mustStore?: boolean;
  /**
   * The topic keeps its messages for browsing: never cleaned up as consumed (e.g. a DLQ). A bus
   * that deletes consumed messages (NATS) provisions a topic first published with it so, for
   * good; buses that always retain (memory, Kafka) ignore it.
   */
  readonly retain?: boolean;
}

/** Options of {@link EventBus.publishBatch}: those of one publish, applied to every message. */
export interface BatchPublishOptions extends Omit<PublishOptions, 'dedupId'> {
  /** Deduplication id of each message (same order as the messages; absent or undefined = none). */
  readonly dedupIds?: readonly (string | undefined)[];
}

/** A message offered to a subscription handler. */
export interface Delivery {
  /** Topic the message was consumed from. */
  readonly topic: string;
  /** The message. */
  readonly message: Message;
  /** How many times this message has been delivered to this group (1 = first). Best effort on Kafka. */
  readonly deliveryCount: number;
  /** Broker coordinates for diagnostics (e.g. `orders/3@1042`, stream sequence). */
  readonly position: string;
  /**
   * Tell the transport the handler is still working, so it does not presume the consumer dead
   * (NATS `working()`; no-op where the transport needs nothing).
   */
  working(): void;
  /**
   * Aborted when this delivery can no longer be settled usefully: its partition was revoked or
   * its subscription closed, so the message will be (or already is) delivered again elsewhere.
   * A consumer that has not started work on it yet should drop it. Absent on buses that never
   * take a delivery back.
   */
  readonly signal?: AbortSignal;
}

/** Subscription handler: resolve = processed; reject = deliver again later. */
export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

/** Ordering of deliveries within one subscription. */
export type Ordering = 'key' | 'partition' | 'none';

/** Options of {@link EventBus.subscribe}. */
export interface SubscribeOptions {
  /** Consumer group: members of one group compete for messages, every group gets every message. */
  readonly group: string;
  /** Most messages handed out and not yet settled at once (per subscription). Default 16. */
  readonly maxInFlight?: number;
  /**
   * How long the transport waits for a settle (or {@link Delivery.working}) before it presumes
   * the handler dead and redelivers, ms. Default 30 000.
   */
  readonly ackTimeoutMs?: number;
  /** Delay before a rejected message is delivered again, ms, unless the rejection is a {@link RedeliverAfter}. Default 1 000. */
  readonly redeliveryDelayMs?: number;
  /** `key` (default): equal keys never run concurrently; `partition`: one at a time per partition; `none`. */
  readonly ordering?: Ordering;
}

/** A live subscription. */
export interface Subscription {
  /** The topic. */
  readonly topic: string;
  /** The consumer group. */
  readonly group: string;
  /** Stop receiving; unsettled deliveries are released to be delivered again (to this group). */
  close(): Promise<void>;
}

/** Reject a delivery with this to have it delivered again after `delayMs` (not a failure). */
export class RedeliverAfter extends Error {
  /** Wait before the next delivery, ms. */
  readonly delayMs: number;

  constructor(delayMs: number, reason = `redeliver in ${delayMs} ms`) {
    super(reason);
    this.name = 'RedeliverAfter';
    this.delayMs = Math.max(0, Math.ceil(delayMs));
  }
}

/**
 * Reject a delivery with this when the message was settled elsewhere (copied to a DLQ): it
 * must never be delivered again. NATS terminates it (`+TERM`, which raises the server's
 * MSG_TERMINATED advisory); the other buses acknowledge it.
 */
export class DeliveryTerminated extends Error {
  constructor(reason = 'terminated') {
    super(reason);
    this.name = 'DeliveryTerminated';
  }
}

/** A message bus: the only thing a broker adapter has to provide. */
export interface EventBus {
  /**
   * Largest message (value + key + headers, bytes) the broker accepts, when the bus knows it
   * (NATS: the server's max_payload; Kafka: the configured limit). Larger publishes fail with a
   * `PublishRejectedError`. The jobs bridge uses it to refuse, at enqueue, a job that would leave
   * no room for the headers of its retry and dead-letter copies.
   */
  readonly maxMessageBytes?: number;
  /**
   * Largest header block (bytes as {@link headerBytes} counts them: every `name: value` line,
   * and the key where the bus carries it in a header) the broker accepts, when it limits headers
   * apart from the whole message (NATS JetStream: 64 KiB). The jobs bridge refuses at enqueue a job
   * whose headers would leave no room for the failure headers of its retry and dead-letter copies.
   */
  readonly maxHeaderBytes?: number;
  /** Publish one message; resolves once the broker has durably accepted it. */
  publish(topic: string, message: Message, options?: PublishOptions): Promise<void>;
  /** Publish several messages to one topic; resolves once all are accepted. */
  publishBatch(topic: string, messages: readonly Message[], options?: BatchPublishOptions): Promise<void>;
  /** Start consuming `topic` as a member of `options.group`. */
  subscribe(topic: string, handler: DeliveryHandler, options: SubscribeOptions): Promise<Subscription>;
  /** Throws a typed error when the bus cannot be used. */
  healthCheck(): Promise<void>;
  /** Close every subscription and connection. */
  close(): Promise<void>;
}

/**
 * Optional capability: read a topic's retained messages without consuming them. Buses that
 * can browse (memory, NATS limits streams, Kafka from offsets) implement it; the DLQ tools use it.
 */
export interface BrowsableBus {
  /** Newest-first retained messages of `topic`, at most `limit`. */
  browse(topic: string, limit: number): Promise<BrowsedMessage[]>;
  /** Remove retained messages for which `select` returns true; returns how many. */
  remove(topic: string, select: (message: BrowsedMessage) => boolean): Promise<number>;
}

/** A retained message read through {@link BrowsableBus.browse}. */
export interface BrowsedMessage extends Message {
  /** Broker coordinates (offset, sequence). */
  readonly position: string;
  /** When the broker stored it. */
  readonly publishedAt: Date;
}

/** True when the bus implements {@link BrowsableBus}. */
export function isBrowsable(bus: EventBus): bus is EventBus & BrowsableBus {
  const candidate = bus as Partial<BrowsableBus>;
  return typeof candidate.browse === 'function' && typeof candidate.remove === 'function';
}

/**
 * What a broker can tell about one topic for one consumer group, without any tracking store.
 * A count the bus cannot tell is absent, never a guess.
 */
export interface TopicStats {
  /** The topic. */
  readonly topic: string;
  /** The consumer group. */
  readonly group: string;
  /** Messages the group has yet to take: ready or awaiting redelivery; also those in flight where `inFlight` is absent (Kafka: consumer lag). */
  readonly waiting: number;
  /** Delivered to the group and not yet settled, when the bus can tell. */
  readonly inFlight?: number;
  /** Published with a `deliverAt` still in the future, when the bus can tell. */
  readonly delayed?: number;
  /** Messages the topic holds, consumed or not (for a DLQ nobody consumes: its size). */
  readonly retained: number;
  /** When the oldest waiting message was published, when that is cheap to tell. */
  readonly oldestWaitingAt?: Date;
}

/** Optional capability: per topic and consumer group counts, from the broker alone. */
export interface QueueStatsBus {
  /** The counts of `topic` for `group` (a group that never consumed it: everything waits). */
  topicStats(topic: string, group: string): Promise<TopicStats>;
}

/** True when the bus implements {@link QueueStatsBus}. */
export function hasTopicStats(bus: EventBus): bus is EventBus & QueueStatsBus {
  return typeof (bus as Partial<QueueStatsBus>).topicStats === 'function';
}
