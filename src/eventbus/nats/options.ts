import type { Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { InvalidArgumentError } from '../../errors.js';
import type { Message } from '../types.js';

/**
 * How a queue's stream forgets jobs that every consumer group has settled.
 *
 * - `acked` (default): a Limits-retention stream; every `cleanupIntervalMs` the bus drops
 *   everything at or below the lowest ack floor of the queue's groups: every group that ever
 *   subscribed (recorded in a KV bucket) until `removeGroup()` retires it, plus any other
 *   explicit-ack durable on the stream. Like Interest retention, but a job published before
 *   any group exists is kept (Interest retention discards messages nobody is subscribed to
 *   yet), and any number of groups each get every job. A job held or failing for a long time
 *   holds the floor, so acked jobs behind it stay stored (not delivered again) until it is settled.
 * - `workqueue`: WorkQueue retention; the server deletes each job when it is acked. Exact
 *   and free of housekeeping, but a queue can then have only one consumer group: a
 *   second group's subscribe fails with a ConflictError.
 */
export type QueueRetention = 'acked' | 'workqueue';

/** Limits of streams that keep their messages (`PublishOptions.retain`, {@link NatsEventBusOptions.retainTopic}). */
export interface RetainedLimits {
  /** Oldest message kept, ms; 0 = no limit (default). */
  readonly maxAgeMs?: number;
  /** Most messages kept; -1 = no limit (default). */
  readonly maxMsgs?: number;
  /** Most bytes kept; -1 = no limit (default). */
  readonly maxBytes?: number;
}

/** Options of `createNatsEventBus`. */
export interface NatsEventBusOptions {
  /** Server URLs, e.g. `nats://127.0.0.1:4222`. Ignored when `connection` is given. */
  readonly servers?: string | readonly string[];
  /** More options for `connect()` of `@nats-io/transport-node` (auth, TLS, name...). */
  readonly connectionOptions?: Omit<NodeConnectionOptions, 'servers'>;
  /** Use this connection instead of opening one; the bus does not close it unless `ownsConnection`. */
  readonly connection?: NatsConnection;
  /** Drain and close the connection in `close()`. Default: true when the bus opened it. */
  readonly ownsConnection?: boolean;
  /** First subject token(s): topic `q` is published on `<subjectPrefix>.q.<q>`. Default `jobbus`. */
  readonly subjectPrefix?: string;
  /** Stream names are `<streamPrefix>_<escaped topic>`. Default: the subject prefix upper-cased and escaped. */
  readonly streamPrefix?: string;
  /** `create` (default): create missing streams and consumers; `verify`: only check they exist (NotFoundError if not). */
  readonly provision?: 'create' | 'verify';
  /** Storage of created streams. Default `file`. */
  readonly storage?: 'file' | 'memory';
  /** Replicas of created streams (1..5). Default 1. */
  readonly replicas?: number;
  /** Window in which the server drops a message whose `Nats-Msg-Id` it has seen, ms. Default 120 000. */
  readonly duplicateWindowMs?: number;
  /** See {@link QueueRetention}. Default `acked`. */
  readonly queueRetention?: QueueRetention;
  /**
   * Topics whose streams keep what was consumed (Limits retention, never cleaned up by ack
   * floor), so they can be browsed and replayed, besides those first published with
   * `PublishOptions.retain` (the jobs bridge publishes DLQ copies so). Default: none. Any topic
   * can be browsed; this only decides whether consumption removes.
   */
  readonly retainTopic?: (topic: string) => boolean;
  /** Limits of retained topics' streams. */
  readonly retainedLimits?: RetainedLimits;
  /** How often settled jobs are dropped from `acked` queue streams, ms. Default 5 000. */
  readonly cleanupIntervalMs?: number;
  /**
   * How settled jobs are dropped. Default: by server version — `purge` (one partial purge) on
   * nats-server ≥ 2.9.15, `delete` (one delete per message) on older servers, which lose
   * ack-pending state on a partial purge. Forcing `purge` on such a server loses jobs.
   */
  readonly cleanupMethod?: 'purge' | 'delete';
  /** Most per-message deletes per stream in one cleanup run (method `delete`). Default 20 000. */
  readonly maxDeletesPerRun?: number;
  /**
   * `max_ack_pending` of created group consumers. Not the in-flight cap (that is
   * `SubscribeOptions.maxInFlight`, enforced by pulling only for free slots). Delayed jobs wait
   * in the topic's delay stream, not here; what counts is due work held by handlers, messages
   * naked for redelivery (`RedeliverAfter`) and foreign messages with a future
   * `jobbus_due_at`. Default 100 000.
   */
  readonly maxAckPending?: number;
  /**
   * Ack wait of created delay-relay consumers, ms. A relay holds delayed messages ready within
   * half of it (a local timer, `+WPI` every third); if its process dies, those come back to
   * another relay after this. Default 10 000.
   */
  readonly relayAckWaitMs?: number;
  /** Ack wait of a group whose subscribe gives no `ackTimeoutMs`, ms. Default 30 000. */
  readonly defaultAckTimeoutMs?: number;
  /**
   * How acks are confirmed. Nothing waits for the confirmation (the handler has already
   * finished); it tells whether an ack may have been lost, and `close()` waits for it.
   * - `flushed` (default): plain acks, and one PING/PONG per burst of acks confirms the
   *   server received them all (the server applies an ack in order after receiving it).
   * - `confirmed`: `ackAck()` per message, a request each: the server replies once the
   *   consumer applied the ack. About half the throughput of `flushed`.
   * - `fast`: fire-and-forget acks.
   * Whatever the mode, an ack lost in a disconnect makes the server redeliver the job after
   * ack wait (at-least-once).
   */
  readonly ackMode?: 'confirmed' | 'flushed' | 'fast';
  /** How long a publish waits for the PubAck, ms. Default 10 000. */
  readonly publishTimeoutMs?: number;
  /**
   * Lifetime of one pull request, ms; the server sends idle heartbeats every half of it (at most
   * 1 s), and three missed ones make the subscriber re-pull. A closing subscriber releases what it
   * holds once its last request expired (see subscriber.ts), so this bounds that hand-over. Default 2 000.
   */
  readonly pullExpiresMs?: number;
  /**
   * `Nats-Msg-Id` of a published message that has no `PublishOptions.dedupId` (for raw bus
   * users who derive ids from their messages). Default: none — the jobs bridge passes ids.
   */
  readonly msgId?: (topic: string, message: Message) => string | undefined;
  /** Logger; default pino at `JOBBUS_LOG_LEVEL` (default `warn`). */
  readonly logger?: Logger;
}

/** Options with defaults applied. */
export interface ResolvedNatsOptions {
  readonly subjectPrefix: string;
  readonly streamPrefix: string;
  readonly provision: 'create' | 'verify';
  readonly storage: 'file' | 'memory';
  readonly replicas: number;
  readonly duplicateWindowMs: number;
  readonly queueRetention: QueueRetention;
  readonly retainTopic: (topic: string) => boolean;
  readonly retainedLimits: Required<RetainedLimits>;
  readonly cleanupIntervalMs: number;
  readonly cleanupMethod: 'purge' | 'delete' | undefined;
  readonly maxDeletesPerRun: number;
  readonly maxAckPending: number;
  readonly defaultAckTimeoutMs: number;
  readonly relayAckWaitMs: number;
  readonly ackMode: 'confirmed' | 'flushed' | 'fast';
  readonly publishTimeoutMs: number;
  readonly pullExpiresMs: number;
}

function positive(name: string, v: number | undefined, dflt: number, min = 1): number {
  const value = v ?? dflt;
  if (!Number.isFinite(value) || value < min) throw new InvalidArgumentError(`${name} must be a number >= ${min}, got ${v}`);
  return value;
}

function cleanupMethodOption(v: unknown): 'purge' | 'delete' | undefined {
  if (v === undefined || v === 'purge' || v === 'delete') return v;
  throw new InvalidArgumentError(`cleanupMethod must be 'purge' or 'delete', got ${String(v)}`);
}

/** Apply defaults and check ranges. */
export function resolveOptions(o: NatsEventBusOptions): ResolvedNatsOptions {
  const subjectPrefix = o.subjectPrefix ?? 'jobbus';
  const replicas = positive('replicas', o.replicas, 1);
  if (!Number.isInteger(replicas) || replicas > 5) throw new InvalidArgumentError(`replicas must be an integer 1..5, got ${replicas}`);
  return {
    subjectPrefix,
    streamPrefix: o.streamPrefix ?? subjectPrefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_'),
    provision: o.provision ?? 'create',
    storage: o.storage ?? 'file',
    replicas,
    duplicateWindowMs: positive('duplicateWindowMs', o.duplicateWindowMs, 120_000, 100),
    queueRetention: o.queueRetention ?? 'acked',
    retainTopic: o.retainTopic ?? (() => false),
    retainedLimits: {
      maxAgeMs: o.retainedLimits?.maxAgeMs ?? 0,
      maxMsgs: o.retainedLimits?.maxMsgs ?? -1,
      maxBytes: o.retainedLimits?.maxBytes ?? -1,
    },
    cleanupIntervalMs: positive('cleanupIntervalMs', o.cleanupIntervalMs, 5_000, 10),
    cleanupMethod: cleanupMethodOption(o.cleanupMethod),
    maxDeletesPerRun: positive('maxDeletesPerRun', o.maxDeletesPerRun, 20_000),
    maxAckPending: positive('maxAckPending', o.maxAckPending, 100_000),
    defaultAckTimeoutMs: positive('defaultAckTimeoutMs', o.defaultAckTimeoutMs, 30_000, 100),
    relayAckWaitMs: positive('relayAckWaitMs', o.relayAckWaitMs, 10_000, 1_000),
    ackMode: o.ackMode ?? 'flushed',
    publishTimeoutMs: positive('publishTimeoutMs', o.publishTimeoutMs, 10_000, 10),
    pullExpiresMs: positive('pullExpiresMs', o.pullExpiresMs, 2_000, 1_000),
  };
}
