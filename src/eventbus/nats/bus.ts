/**
 * The NATS JetStream bus: composition only. Connection (connection.ts), streams and consumers
 * (provision.ts), publishing (publish.ts), subscribing (subscribe.ts, subscriber.ts), delay
 * relays (relay.ts), browsing (browse.ts) and the janitor (janitor.ts) each live in their own
 * module; this file wires them to one another and to the bus's open/closed state.
 *
 *   open --close()--> closing (subscribers, relays, publisher, connection) --> closed
 */
import pino, { type Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import { ClosedError } from '../../errors.js';
import type { BrowsableBus, EventBus, QueueStatsBus } from '../types.js';
import { createBrowsing } from './browse.js';
import { checkHealth, closeConnection, openConnection, watchConnection, type OpenConnection } from './connection.js';
import { startJanitor } from './janitor.js';
import { loadModules, type JetStreamModule, type TransportModule } from './modules.js';
import { createNameMapper, type NameMapper } from './names.js';
import { resolveOptions, type NatsEventBusOptions, type ResolvedNatsOptions } from './options.js';
import { createProvisioner } from './provision.js';
import { createPublishing } from './publish.js';
import { createJsPublisher } from './publisher.js';
import { createGroupRegistry } from './registry.js';
import { createRelays } from './relay.js';
import { cleanupMethodFor, type CleanupMethod } from './server-version.js';
import { createTopicStats } from './stats.js';
import { createSubscribe } from './subscribe.js';
import type { Subscriber } from './subscriber.js';
import { MAX_HEADER_BYTES } from './wire.js';

/** A NATS JetStream {@link EventBus} that can also browse its streams. */
export interface NatsEventBus extends EventBus, BrowsableBus, QueueStatsBus {
  /** The connection underneath (for diagnostics; do not close it while the bus is open). */
  readonly connection: NatsConnection;
  /** How settled jobs are dropped on this server: `purge` (nats-server ≥ 2.9.15) or per-message `delete`. */
  readonly cleanupMethod: CleanupMethod;
  /** Stream name holding `topic` (throws a ValidationError for an unmappable name). */
  streamOf(topic: string): string;
  /** Subject `topic` is published on. */
  subjectOf(topic: string): string;
  /** Drop settled jobs from `acked` queue streams now (normally on a timer); returns messages dropped. */
  cleanup(): Promise<number>;
  /**
   * Retire a consumer group of a queue: delete its durable consumer and its registration, so it
   * no longer holds the queue's retention floor. Close the group's subscriptions first (in every
   * process): a live subscriber re-creates its consumer (and registration) from what is retained.
   * Returns false when the group was neither registered nor had a consumer.
   */
  removeGroup(topic: string, group: string): Promise<boolean>;
}

/** Longest close() waits for the server (drain, flush of acks and naks). */
const CLOSE_TIMEOUT_MS = 5_000;

/**
 * Create a NATS JetStream event bus (server 2.9+). Connects (or uses `options.connection`),
 * checks JetStream is enabled, and provisions streams and consumers on first use (see
 * provision.ts for the layout).
 *
 * Semantics: publish waits for the PubAck; `PublishOptions.dedupId` becomes `Nats-Msg-Id`, so
 * the server drops a re-sent duplicate within `duplicateWindowMs`, and with `mustStore` a
 * "duplicate" answer is an error; with `retain` the topic's stream keeps what is consumed
 * (retained.ts). A message with a future `deliverAt` waits in the topic's
 * delay stream; a relay run by the topic's subscribers forwards it to the queue stream when
 * due (relay.ts). A delivery before its due time (a foreign producer's `jobbus_due_at`) is
 * naked with the remaining delay. Resolved handler = ack (by default written in bursts, each
 * burst confirmed by one flush; see `ackMode`), rejected = nak with the {@link RedeliverAfter}
 * delay or `redeliveryDelayMs`, `working()` = `+WPI`. After a disconnect the client reconnects
 * forever and the pull loops resume; acks lost in the gap make the server redeliver those
 * messages after ack wait (at-least-once, same `job_id`).
 */
export async function createNatsEventBus(options: NatsEventBusOptions = {}): Promise<NatsEventBus> {
  const opts = resolveOptions(options);
  const names = createNameMapper(opts.subjectPrefix, opts.streamPrefix);
  const logger: Logger = options.logger ?? pino({ name: 'jobbus-nats', level: process.env.JOBBUS_LOG_LEVEL ?? 'warn' });
  const modules = await loadModules();
  const conn = await openConnection(options, modules, opts.publishTimeoutMs);
  const { nc, jsm } = conn;
  const cleanupMethod = opts.cleanupMethod ?? cleanupMethodFor(nc.info?.version);
  if (cleanupMethod === 'delete') {
    logger.debug({ version: nc.info?.version }, 'server may lose ack-pending state on a partial purge: settled jobs are deleted one by one');
  }
  let closed = false;
  let closing: Promise<void> | undefined;
  const life: Lifecycle = {
    isClosed: () => closed,
    assertOpen() {
      if (closed) throw new ClosedError('NATS event bus is closed');
    },
  };
  const p = wireParts({ opts, names, logger, modules, conn, cleanupMethod, life, msgIdOf: options.msgId });

  return {
    connection: nc,
    cleanupMethod,
    // The server refuses larger messages (headers + payload); the client checks before sending.
    ...(nc.info?.max_payload !== undefined && { maxMessageBytes: nc.info.max_payload }),
    maxHeaderBytes: MAX_HEADER_BYTES,
    streamOf: (topic) => names.streamOf(topic),
    subjectOf: (topic) => names.subjectOf(topic),
    publish: p.publishing.publish,
    publishBatch: p.publishing.publishBatch,
    subscribe: p.subscribe,
    ...createBrowsing({ jsm, prov: p.prov, assertOpen: life.assertOpen }),
    ...createTopicStats({ jsm, jsmod: modules.jsmod, names, assertOpen: life.assertOpen }),
    cleanup: () => p.janitor.cleanup(),
    async removeGroup(topic, group) {
      life.assertOpen();
      return p.janitor.removeGroup(topic, group);
    },
    async healthCheck() {
      life.assertOpen();
      await checkHealth(conn, p.connected());
    },
    async close() {
      closing ??= (async () => {
        closed = true;
        p.janitor.stop();
        await Promise.allSettled([...p.subscribers].map((s) => s.subscription.close()));
        await p.relays.closeAll();
        p.publisher.close();
        if (conn.ownsConnection) await closeConnection(nc, CLOSE_TIMEOUT_MS);
      })();
      await closing;
    },
  };
}

/** The bus's open/closed state, as its parts see it. */
interface Lifecycle {
  isClosed(): boolean;
  /** Throws a ClosedError once the bus is closed. */
  assertOpen(): void;
}

/** What {@link wireParts} wires together. */
interface WireInput {
  readonly opts: ResolvedNatsOptions;
  readonly names: NameMapper;
  readonly logger: Logger;
  readonly modules: { transport: TransportModule; jsmod: JetStreamModule };
  readonly conn: OpenConnection;
  readonly cleanupMethod: CleanupMethod;
  readonly life: Lifecycle;
  readonly msgIdOf: NatsEventBusOptions['msgId'];
}

/** Create the bus's parts and connect them to one another. */
function wireParts(w: WireInput) {
  const { opts, names, logger, life, conn } = w;
  const { nc, jsm } = conn;
  const { transport, jsmod } = w.modules;
  const newInbox = (): string => transport.createInbox();
  const subscribers = new Set<Subscriber>();
  const publisher = createJsPublisher(nc, newInbox());
  const connected = watchConnection(nc, {
    reconnected: () => subscribers.forEach((sub) => sub.reconnected()),
    // The server refuses a publish asynchronously: fail the publishes waiting on that subject.
    publishRefused: (subject, description) => publisher.failSubject(subject, { kind: 'permission', description }, description),
  });
  const registry = createGroupRegistry({ nc, bucket: `${opts.streamPrefix}_groups`, storage: opts.storage, replicas: opts.replicas, timeoutMs: opts.publishTimeoutMs });
  const prov = createProvisioner({ jsm, jsmod, opts, names, registry, logger });
  const publishing = createPublishing({ prov, publisher, opts, msgIdOf: w.msgIdOf, newHeaders: () => transport.headers(), ...life });
  const janitor = startJanitor({
    jsm, jsmod, registry, names, prov, logger, nc,
    isClosed: life.isClosed,
    method: w.cleanupMethod,
    explicitAck: jsmod.AckPolicy.Explicit,
    maxDeletesPerRun: opts.maxDeletesPerRun,
    inbox: newInbox(),
    timeoutMs: opts.publishTimeoutMs,
    intervalMs: opts.cleanupIntervalMs,
  });
  const relays = createRelays({
    prov,
    logger,
    publish: (topic, message, dueAt, dedupId, relayOrigin) => publishing.publishOne(topic, message, { dueAt, dedupId, relayOrigin }),
    subscriberBase: { ackMode: opts.ackMode, pullExpiresMs: opts.pullExpiresMs, settleTimeoutMs: CLOSE_TIMEOUT_MS, logger, nc },
    newInbox,
    track: (sub, live) => (live ? subscribers.add(sub) : subscribers.delete(sub)),
  });
  const subscribe = createSubscribe({
    prov, names, relays, opts, logger, nc, subscribers, newInbox,
    assertOpen: life.assertOpen,
    settleTimeoutMs: CLOSE_TIMEOUT_MS,
    consumed: (ref) => janitor.consumed(ref),
  });
  return { subscribers, publisher, connected, prov, publishing, janitor, relays, subscribe };
}
