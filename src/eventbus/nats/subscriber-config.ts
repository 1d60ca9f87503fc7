/**
 * What a subscriber (subscriber.ts) needs from the bus, and what it gives back.
 */
import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import type { DeliveryHandler, Ordering, Subscription } from '../types.js';

/** What a subscriber needs from the bus. */
export interface SubscriberConfig {
  readonly topic: string;
  readonly group: string;
  readonly stream: string;
  readonly durable: string;
  readonly handler: DeliveryHandler;
  readonly maxInFlight: number;
  /** This subscriber's lease: how long a delivery without settle or `working()` is kept alive, ms. */
  readonly ackTimeoutMs: number;
  /**
   * The consumer's `ack_wait`, ms, shared by every subscriber of the group (set by whoever
   * created the consumer). When it is shorter than `ackTimeoutMs`, this subscriber sends
   * `+WPI` for its deliveries every third of it until their own lease runs out (finding D5).
   */
  readonly consumerAckWaitMs: number;
  readonly redeliveryDelayMs: number;
  readonly ordering: Ordering;
  /**
   * Delay relays only (see relay.ts): when a delivered message is ready for the handler (epoch
   * ms), from the time the stream stored it and its due time. A message ready within
   * `RELAY_HOLD_MS` (or half the consumer's ack wait, if shorter) is held (kept alive with
   * `+WPI`) and handed to the handler then by a local timer, taking an in-flight slot; one
   * ready later is naked until shortly before. The
   * due-time header is then not checked here but left to the handler.
   */
  readyAtOf?(storedAt: number, dueAt: number | undefined): number;
  /**
   * With `readyAtOf`: readiness grows with the stream sequence (a ladder rung), so after a
   * message that is not ready for long nothing more is pulled until it comes back.
   */
  readonly readyInOrder?: boolean;
  /** Leave the due-time header in the delivered headers (delay relays pass it on). */
  readonly keepDueAt?: boolean;
  readonly ackMode: 'confirmed' | 'flushed' | 'fast';
  readonly pullExpiresMs: number;
  /** Longest close() waits for ack confirmations and the final flush, ms. */
  readonly settleTimeoutMs: number;
  readonly logger: Logger;
  readonly nc: NatsConnection;
  /** A subject unique to this subscriber, for the pull responses. */
  readonly inbox: string;
  /** Make sure the group's consumer exists; `refresh` forgets cached provisioning first. Resolves with its ack wait, ms. */
  ensureConsumer(refresh: boolean): Promise<number>;
  /** Called once closed, to forget the subscription. */
  onClosed(): void;
}

/** A subscription plus the hook the bus calls after the connection came back. */
export interface Subscriber {
  readonly subscription: Subscription;
  /** The server forgot this connection's pull requests: ask again. */
  reconnected(): void;
}
