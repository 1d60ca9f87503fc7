import pino, { type Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ClosedError, InvalidArgumentError, JobbusError, UnavailableError } from '../../errors.js';
import { type BrowsableBus, type EventBus, type Message, type PublishOptions, type SubscribeOptions } from '../types.js';
import { browseStream, removeFromStream } from './browse.js';
import { cleanStream, type JanitorDeps } from './janitor.js';
import { createNameMapper } from './names.js';
import { resolveOptions, type NatsEventBusOptions } from './options.js';
import { createProvisioner } from './provision.js';
import { createJsPublisher, PublishFailedError } from './publisher.js';
import { natsAuthError, notStoredError, publishError } from './publish-errors.js';
import { createGroupRegistry } from './registry.js';
import { createRelays } from './relay.js';
import { FORWARD_LEAD_MS, tierFor } from './delay-tiers.js';
import { cleanupMethodFor, type CleanupMethod } from './server-version.js';
import { startSubscriber, type Subscriber } from './subscriber.js';
import { MAX_HEADER_BYTES, writeHeaders } from './wire.js';
import { loadModules } from './modules.js';
import { resolveSubscribeOptions } from '../delivery.js';


/** A NATS JetStream {@link EventBus} that can also browse its streams. */
export interface NatsEventBus extends EventBus, BrowsableBus {
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

/** What publishOne does with one message. */
interface PublishSpec {
  /** Due time (epoch ms) of a delayed message: published to the topic's delay stream. */
  readonly dueAt?: number;
  readonly dedupId?: string;
  readonly mustStore?: boolean;
  readonly retain?: boolean;
  /** Set by a relay moving a delayed message (see relay.ts). */
  readonly relayOrigin?: string | undefined;
}

/** Longest close() waits for the server (drain, flush of acks and naks). */
const CLOSE_TIMEOUT_MS = 5_000;
function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Create a NATS JetStream event bus (server 2.9+). Connects (or uses `options.connection`),
 * checks JetStream is enabled, and provisions streams and consumers on first use (see
 * provision.ts for the layout).
 *
 * Semantics: publish waits for the PubAck; `PublishOptions.dedupId` becomes `Nats-Msg-Id`, so
 * the server drops a re-sent duplicate within `duplicateWindowMs`, and with `mustStore` a
 * "duplicate" answer is an error. A message with a future `deliverAt` waits in the topic's
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
  const msgIdOf = options.msgId;
  const { transport, jsmod } = await loadModules();

  let nc: NatsConnection;
  if (options.connection) {
    nc = options.connection;
  } else {
    const servers = options.servers ?? 'nats://127.0.0.1:4222';
    try {
      nc = await transport.connect({
        // Reconnect forever: a NATS restart must not need a process restart.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        // An Error (with its stack) per request only for async stack traces: ~15 % of the
        // CPU of a busy bus when acks are confirmed one request each (ackMode `confirmed`).
        noAsyncTraces: true,
        ...options.connectionOptions,
        servers: typeof servers === 'string' ? servers : [...servers],
      });
    } catch (err) {
      throw natsAuthError(err, options.connectionOptions?.user) ??
        new UnavailableError(`cannot connect to NATS at ${String(servers)}: ${describe(err)}`, { cause: err });
    }
  }
  const ownsConnection = options.ownsConnection ?? !options.connection;

  let jsm: JetStreamManager;
  try {
    jsm = await jsmod.jetstreamManager(nc, { timeout: opts.publishTimeoutMs });
  } catch (err) {
    if (ownsConnection) await nc.close().catch(() => undefined);
    throw new UnavailableError(`NATS JetStream is not available: ${describe(err)}`, { cause: err });
  }
  const publisher = createJsPublisher(nc, transport.createInbox());
  const cleanupMethod = opts.cleanupMethod ?? cleanupMethodFor(nc.info?.version);
  if (cleanupMethod === 'delete') {
    logger.debug({ version: nc.info?.version }, 'server may lose ack-pending state on a partial purge: settled jobs are deleted one by one');
  }
  const registry = createGroupRegistry({
    nc,
    bucket: `${opts.streamPrefix}_groups`,
    storage: opts.storage,
    replicas: opts.replicas,
    timeoutMs: opts.publishTimeoutMs,
  });
  const prov = createProvisioner({ jsm, jsmod, opts, names, registry, logger });
  const janitorDeps: JanitorDeps = {
    jsm,
    registry,
    method: cleanupMethod,
    logger,
    explicitAck: jsmod.AckPolicy.Explicit,
    maxDeletesPerRun: opts.maxDeletesPerRun,
    nc,
    inbox: transport.createInbox(),
    timeoutMs: opts.publishTimeoutMs,
  };

  let closed = false;
  let closing: Promise<void> | undefined;
  let connected = true;
  const subscribers = new Set<Subscriber>();
  /** Streams this bus consumes with `acked` retention -> highest sequence dropped so far. */
  const cleanable = new Map<string, number>();

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      else if (s.type === 'reconnect') {
        connected = true;
        for (const sub of subscribers) sub.reconnected();
      } else if (s.type === 'error' && /permissions violation for publish to "([^"]+)"/i.test(describe(s.error))) {
        // The server refuses a publish asynchronously: fail the publishes waiting on that subject.
        const subject = /publish to "([^"]+)"/i.exec(describe(s.error))![1]!;
        publisher.failSubject(subject, { kind: 'permission', description: describe(s.error) }, describe(s.error));
      }
    }
  })().catch(() => undefined);

  const relays = createRelays({
    prov,
    logger,
    publish: (topic, message, dueAt, dedupId, relayOrigin) => publishOne(topic, message, { dueAt, dedupId, relayOrigin }),
    subscriberBase: { ackMode: opts.ackMode, pullExpiresMs: opts.pullExpiresMs, settleTimeoutMs: CLOSE_TIMEOUT_MS, logger, nc },
    newInbox: () => transport.createInbox(),
    track: (sub, live) => (live ? subscribers.add(sub) : subscribers.delete(sub)),
  });

  const janitor = setInterval(() => {
    void bus.cleanup().catch((err: unknown) => logger.debug({ err }, 'stream cleanup failed; retrying later'));
  }, opts.cleanupIntervalMs);
  janitor.unref();

  function assertOpen(): void {
    if (closed) throw new ClosedError('NATS event bus is closed');
  }

  const apiCode = (err: unknown): number | undefined => (err instanceof jsmod.JetStreamApiError ? err.code : undefined);

  /** A failure talking to the server, typed: our own errors pass, the rest is "unavailable". */
  function unavailable(what: string, err: unknown): JobbusError {
    if (err instanceof JobbusError) return err;
    return new UnavailableError(`${what}: ${describe(err)}`, { cause: err });
  }

  async function publishOne(topic: string, message: Message, spec: PublishSpec, retry = true): Promise<void> {
    // A delayed message goes to the delay tier of its remaining delay (see delay-tiers.ts); one
    // due within FORWARD_LEAD_MS straight to the queue stream, where its subscriber holds it
    // until due. A retained topic's stream is made (or marked) retained first, delayed or not.
    const delayed = spec.dueAt !== undefined && spec.dueAt - Date.now() > FORWARD_LEAD_MS;
    const ref = !delayed || spec.retain ? await prov.streamFor(topic, spec.retain) : undefined;
    const subject = delayed ? (await prov.delayStreamFor(topic)).subjects.get(tierFor(spec.dueAt! - Date.now()).name)! : ref!.subject;
    const h = transport.headers();
    writeHeaders(h, message, spec.dueAt, spec.relayOrigin);
    const dedupId = spec.dedupId ?? msgIdOf?.(topic, message);
    if (dedupId !== undefined) h.set('Nats-Msg-Id', dedupId);
    let duplicate: boolean;
    try {
      duplicate = (await publisher.publish(subject, message.value, h, opts.publishTimeoutMs)).duplicate;
    } catch (err) {
      const failure = err instanceof PublishFailedError ? err.failure : undefined;
      if (retry && opts.provision === 'create' && failure?.kind === 'no-stream') {
        // The stream was deleted under us (or lost by a memory-storage restart): provision again once.
        prov.forgetStream(topic);
        return publishOne(topic, message, spec, false);
      }
      if (failure?.kind === 'closed' && closed) throw new ClosedError('NATS event bus is closed', { cause: err });
      throw publishError(topic, subject, err);
    }
    if (duplicate && spec.mustStore) throw notStoredError(topic, dedupId ?? '');
  }

  function checkMessage(message: Message): void {
    if (!message || !(message.value instanceof Uint8Array)) throw new InvalidArgumentError('message value must be a Uint8Array');
  }

  function dueAtOf(o: PublishOptions | undefined): number | undefined {
    const due = o?.deliverAt?.getTime();
    if (due === undefined) return undefined;
    if (!Number.isFinite(due)) throw new InvalidArgumentError('deliverAt must be a valid Date');
    return due > Date.now() ? due : undefined;
  }

  const bus: NatsEventBus = {
    connection: nc,
    cleanupMethod,
    // The server refuses larger messages (headers + payload); the client checks before sending.
    ...(nc.info?.max_payload !== undefined && { maxMessageBytes: nc.info.max_payload }),
    maxHeaderBytes: MAX_HEADER_BYTES,
    streamOf: (topic) => names.streamOf(topic),
    subjectOf: (topic) => names.subjectOf(topic),

    async publish(topic, message, o) {
      assertOpen();
      checkMessage(message);
      await publishOne(topic, message, { dueAt: dueAtOf(o), dedupId: o?.dedupId, mustStore: o?.mustStore, retain: o?.retain });
    },

    async publishBatch(topic, messages, o) {
      assertOpen();
      if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
      messages.forEach(checkMessage);
      const dueAt = dueAtOf(o);
      const ids = o?.dedupIds;
      if (ids !== undefined && (!Array.isArray(ids) || ids.length > messages.length)) {
        throw new InvalidArgumentError('dedupIds must be an array with at most one id per message');
      }
      if (dueAt === undefined || o?.retain) await prov.streamFor(topic, o?.retain);
      if (dueAt !== undefined) await prov.delayStreamFor(topic);
      // Pipelined: every publish is on the wire before the first PubAck is awaited, and
      // one connection keeps their order.
      const results = await Promise.allSettled(messages.map((m, i) => publishOne(topic, m, { dueAt, dedupId: ids?.[i], mustStore: o?.mustStore, retain: o?.retain })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },

    async subscribe(topic, handler, so: SubscribeOptions) {
      assertOpen();
      if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
      const { group, maxInFlight, ackTimeoutMs, redeliveryDelayMs, ordering } = resolveSubscribeOptions(so, { ackTimeoutMs: opts.defaultAckTimeoutMs });
      const ref = await prov.streamFor(topic);
      const consumerAckWaitMs = await prov.consumerFor(topic, group, ackTimeoutMs, false);
      if (!ref.retained && !ref.workqueue && !cleanable.has(ref.name)) cleanable.set(ref.name, 0);
      relays.start(topic);
      const sub = startSubscriber({
        topic,
        group,
        stream: ref.name,
        durable: names.durableOf(group),
        handler,
        maxInFlight,
        ackTimeoutMs,
        consumerAckWaitMs,
        redeliveryDelayMs,
        ordering,
        ackMode: opts.ackMode,
        pullExpiresMs: opts.pullExpiresMs,
        settleTimeoutMs: CLOSE_TIMEOUT_MS,
        logger,
        nc,
        inbox: transport.createInbox(),
        ensureConsumer: (refresh) => prov.consumerFor(topic, group, ackTimeoutMs, refresh),
        onClosed: () => {
          subscribers.delete(sub);
          void relays.stop(topic);
        },
      });
      subscribers.add(sub);
      return sub.subscription;
    },

    async healthCheck() {
      assertOpen();
      if (nc.isClosed()) throw new UnavailableError('NATS connection is closed');
      if (!connected) throw new UnavailableError('NATS connection is down; reconnecting');
      try {
        await jsm.getAccountInfo();
      } catch (err) {
        throw new UnavailableError(`NATS JetStream does not answer: ${describe(err)}`, { cause: err });
      }
    },

    async close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(janitor);
        await Promise.allSettled([...subscribers].map((s) => s.subscription.close()));
        await relays.closeAll();
        publisher.close();
        if (ownsConnection && !nc.isClosed()) {
          // Drain waits for the server; with the server gone it would wait for a reconnect.
          const drained = await within(nc.drain().then(() => true, () => false), CLOSE_TIMEOUT_MS);
          if (!drained) await nc.close().catch(() => undefined);
        }
      })();
      await closing;
    },

    async browse(topic, limit) {
      assertOpen();
      if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgumentError(`limit must be an integer >= 0, got ${limit}`);
      const ref = await prov.existingStreamFor(topic);
      if (!ref || limit === 0) return [];
      return browseStream(jsm, ref, limit).catch((err: unknown) => {
        throw unavailable(`cannot browse queue "${topic}"`, err);
      });
    },

    async remove(topic, select) {
      assertOpen();
      if (typeof select !== 'function') throw new InvalidArgumentError('select must be a function');
      const ref = await prov.existingStreamFor(topic);
      if (!ref) return 0;
      return removeFromStream(jsm, ref, select).catch((err: unknown) => {
        throw unavailable(`cannot remove messages from queue "${topic}"`, err);
      });
    },

    async cleanup() {
      let dropped = 0;
      for (const [stream, done] of cleanable) {
        if (closed) break;
        try {
          const r = await cleanStream(janitorDeps, stream, done);
          dropped += r.dropped;
          if (r.retained) cleanable.delete(stream); // marked retained since (maybe by another process)
          else cleanable.set(stream, r.done);
        } catch (err) {
          if (apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound) cleanable.delete(stream);
          else logger.debug({ err, stream }, 'cleanup of stream failed; next run');
        }
      }
      return dropped;
    },

    async removeGroup(topic, group) {
      assertOpen();
      const stream = names.streamOf(topic);
      const durable = names.durableOf(group);
      try {
        const registered = (await registry.groupsOf(stream)).has(durable);
        const deleted = await jsm.consumers.delete(stream, durable).catch((err: unknown) => {
          if (apiCode(err) === jsmod.JetStreamApiCodes.ConsumerNotFound || apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound) return false;
          throw err;
        });
        if (registered) await registry.remove(stream, durable);
        prov.forgetStream(topic);
        return registered || deleted;
      } catch (err) {
        throw unavailable(`cannot remove group "${group}" of queue "${topic}"`, err);
      }
    },
  };
  return bus;
}

/** `p`'s value, or false once `ms` passed. */
function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
