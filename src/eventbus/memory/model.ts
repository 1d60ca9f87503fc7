/**
 * The memory bus's data model: a topic's log, its consumer groups, their members and the
 * deliveries in flight. See group-delivery.ts for how entries move through it.
 */
import type { DeliveryHandler, Message, Ordering } from '../types.js';
import type { ReadyQueue } from './ready-queue.js';

export interface Entry {
  readonly seq: number;
  readonly message: Message;
  readonly publishedAt: Date;
}

/** One delivery of an entry to one subscriber, until settled. */
export interface InFlight {
  readonly entry: Entry;
  /** Ordering key held busy by this delivery. */
  readonly key: string | undefined;
  readonly member: Member;
  readonly deliveryCount: number;
  deadline: number;
  done: boolean;
}

export interface Member {
  readonly handler: DeliveryHandler;
  readonly maxInFlight: number;
  inFlight: number;
  closed: boolean;
}

export interface Pending {
  readonly seq: number;
  readonly entry: Entry;
  /** Deliveries so far. */
  readonly deliveries: number;
}

/**
 * A consumer group on one topic.
 *
 * Each entry moves: ready -> in flight -> (acked | waiting to redeliver -> ready).
 * The ready queue keeps an entry's key busy while it is in flight or waiting to be
 * redelivered, so with ordering `key` a later entry of the same key waits for the earlier.
 */
export interface Group {
  readonly name: string;
  readonly topic: Topic;
  readonly ordering: Ordering;
  readonly ackTimeoutMs: number;
  readonly redeliveryDelayMs: number;
  readonly ready: ReadyQueue<Pending>;
  readonly inFlight: Set<InFlight>;
  readonly members: Member[];
  rr: number;
  pumpScheduled: boolean;
  /** Entries waiting out a redelivery delay. */
  waiting: number;
  /**
   * Set while the group has no member: the last sequence it had queued. Appends then skip the
   * group (its ready queue would grow without bound); the first member to come back queues the
   * entries the log still retains above it, as a Kafka group resumes from its offset.
   */
  absentSince: number | undefined;
  /** The group's ack-timeout sweep, running while deliveries are in flight. */
  ackSweep: NodeJS.Timeout | undefined;
}

export interface Topic {
  readonly name: string;
  readonly log: Entry[];
  readonly groups: Map<string, Group>;
}

