import pino, { type Logger } from 'pino';
import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import {
  ClosedError,
  ConflictError,
  InvalidArgumentError,
  JobbusError,
  NotFoundError,
  NotInitializedError,
  UnavailableError,
  ValidationError,
} from '../../jobs/errors.js';
import type { BrowsableBus, BrowsedMessage, EventBus, Message, PublishOptions, SubscribeOptions } from '../types.js';
import { createNameMapper } from './names.js';
import { resolveOptions, type NatsEventBusOptions } from './options.js';
import { createJsPublisher, PublishFailedError } from './publisher.js';
import { startSubscriber, type Subscriber } from './subscriber.js';
import { defaultMsgId, readMessage, writeHeaders } from './wire.js';

type TransportModule = typeof import('@nats-io/transport-node');
type JetStreamModule = typeof import('@nats-io/jetstream');

/** A NATS JetStream {@link EventBus} that can also browse its streams. */
export interface NatsEventBus extends EventBus, BrowsableBus {
  /** The connection underneath (for diagnostics; do not close it while the bus is open). */
  readonly connection: NatsConnection;
  /** Stream name holding `topic` (throws a ValidationError for an unmappable name). */
  streamOf(topic: string): string;
  /** Subject `topic` is published on. */
  subjectOf(topic: string): string;
  /** Purge settled jobs from `acked` queue streams now (normally on a timer); returns messages purged. */
  cleanup(): Promise<number>;
}

/** A provisioned topic. */
interface StreamRef {
  readonly topic: string;
  readonly name: string;
  readonly subject: string;
  readonly retained: boolean;
  readonly workqueue: boolean;
}

const DEFAULT_MAX_IN_FLIGHT = 16;
const DEFAULT_REDELIVERY_DELAY_MS = 1_000;
/** Longest close() waits for the server (drain, flush of acks and naks). */
const CLOSE_TIMEOUT_MS = 5_000;
/** Parallel single-message reads while browsing. */
const BROWSE_CHUNK = 64;

async function loadModules(): Promise<{ transport: TransportModule; jsmod: JetStreamModule }> {
  try {
    const [transport, jsmod] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
    return { transport, jsmod };
  } catch (err) {
    throw new NotInitializedError(
      'jobbus/nats needs its optional peer dependencies: npm install @nats-io/transport-node @nats-io/jetstream @nats-io/nats-core',
      { cause: err },
    );
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Create a NATS JetStream event bus (server 2.9+). Connects (or uses `options.connection`),
 * checks JetStream is enabled, and provisions streams and consumers on first use.
 *
 * Layout (see names.ts): topic `q` is subject `<prefix>.q.<q>` in stream
 * `<PREFIX>_<escaped q>`; a consumer group is a durable pull consumer named after the
 * group, shared by all its subscribers, with explicit acks and `ack_wait` from the
 * subscription's `ackTimeoutMs`.
 *
 * Semantics: publish waits for the PubAck and sets `Nats-Msg-Id` (see wire.ts) so the
 * server drops a re-sent duplicate within `duplicateWindowMs`. A delayed message is stored
 * at once with a due-time header; a delivery before it is due is naked with the remaining
 * delay, never shown to the handler. Resolved handler = ack (by default written in bursts,
 * each burst confirmed by one flush; see `ackMode`), rejected = nak with the {@link RedeliverAfter} delay or `redeliveryDelayMs`,
 * `working()` = `+WPI`. After a disconnect the client reconnects forever and the pull loops
 * resume; acks lost in the gap make the server redeliver those messages after ack wait
 * (at-least-once, same `job_id`).
 */
export async function createNatsEventBus(options: NatsEventBusOptions = {}): Promise<NatsEventBus> {
  const opts = resolveOptions(options);
  const names = createNameMapper(opts.subjectPrefix, opts.streamPrefix);
  const logger: Logger = options.logger ?? pino({ name: 'jobbus-nats', level: process.env.JOBBUS_LOG_LEVEL ?? 'warn' });
  const msgIdOf = options.msgId ?? defaultMsgId;
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
      throw new UnavailableError(`cannot connect to NATS at ${String(servers)}: ${describe(err)}`, { cause: err });
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

  let closed = false;
  let closing: Promise<void> | undefined;
  let connected = true;
  const streams = new Map<string, Promise<StreamRef>>();
  const consumers = new Map<string, Promise<void>>();
  const subscribers = new Set<Subscriber>();
  /** Streams this bus consumes with `acked` retention -> highest sequence purged so far. */
  const cleanable = new Map<string, number>();

  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      else if (s.type === 'reconnect') {
        connected = true;
        for (const sub of subscribers) sub.reconnected();
      }
    }
  })().catch(() => undefined);

  const janitor = setInterval(() => {
    void bus.cleanup().catch((err: unknown) => logger.debug({ err }, 'stream cleanup failed; retrying later'));
  }, opts.cleanupIntervalMs);
  janitor.unref();

  function assertOpen(): void {
    if (closed) throw new ClosedError('NATS event bus is closed');
  }

  function apiCode(err: unknown): number | undefined {
    return err instanceof jsmod.JetStreamApiError ? err.code : undefined;
  }
  const isStreamMissing = (err: unknown): boolean => apiCode(err) === jsmod.JetStreamApiCodes.StreamNotFound;
  const isConsumerMissing = (err: unknown): boolean => apiCode(err) === jsmod.JetStreamApiCodes.ConsumerNotFound;

  /** A failure talking to the server, typed: our own errors pass, the rest is "unavailable". */
  function unavailable(what: string, err: unknown): JobbusError {
    if (err instanceof JobbusError) return err;
    return new UnavailableError(`${what}: ${describe(err)}`, { cause: err });
  }

  function streamConfig(ref: StreamRef): WithName<StreamConfig> {
    const limits = ref.retained ? opts.retainedLimits : { maxAgeMs: 0, maxMsgs: -1, maxBytes: -1 };
    return {
      name: ref.name,
      subjects: [ref.subject],
      retention: ref.workqueue ? jsmod.RetentionPolicy.Workqueue : jsmod.RetentionPolicy.Limits,
      storage: opts.storage === 'memory' ? jsmod.StorageType.Memory : jsmod.StorageType.File,
      num_replicas: opts.replicas,
      duplicate_window: nanos(opts.duplicateWindowMs),
      discard: jsmod.DiscardPolicy.Old,
      max_age: nanos(limits.maxAgeMs),
      max_msgs: limits.maxMsgs,
      max_bytes: limits.maxBytes,
      description: `jobbus topic ${ref.topic}`,
    };
  }

  async function provisionStream(topic: string): Promise<StreamRef> {
    const retained = opts.retainTopic(topic);
    const ref: StreamRef = {
      topic,
      name: names.streamOf(topic),
      subject: names.subjectOf(topic),
      retained,
      workqueue: !retained && opts.queueRetention === 'workqueue',
    };
    try {
      const info = await jsm.streams.info(ref.name);
      if (!info.config.subjects?.includes(ref.subject)) {
        throw new ValidationError('queue', `stream ${ref.name} of queue "${topic}" exists but does not bind subject ${ref.subject}`);
      }
      return { ...ref, workqueue: info.config.retention === jsmod.RetentionPolicy.Workqueue };
    } catch (err) {
      if (!isStreamMissing(err)) throw unavailable(`cannot look up stream ${ref.name} of queue "${topic}"`, err);
    }
    if (opts.provision === 'verify') {
      throw new NotFoundError(`stream ${ref.name} of queue "${topic}" does not exist (provision: 'verify')`);
    }
    try {
      await jsm.streams.add(streamConfig(ref));
    } catch (err) {
      const code = apiCode(err);
      if (code === 10058) return ref; // created meanwhile by another process
      if (code === 10065) {
        throw new ValidationError('queue', `queue "${topic}": subject ${ref.subject} overlaps another stream's subjects`, { cause: err });
      }
      throw unavailable(`cannot create stream ${ref.name} of queue "${topic}"`, err);
    }
    return ref;
  }

  function streamFor(topic: string): Promise<StreamRef> {
    let p = streams.get(topic);
    if (!p) {
      p = provisionStream(topic);
      streams.set(topic, p);
      p.catch(() => streams.delete(topic));
    }
    return p;
  }

  function forgetStream(topic: string, stream: string): void {
    streams.delete(topic);
    for (const k of consumers.keys()) if (k.startsWith(`${stream}\u0000`)) consumers.delete(k);
  }

  async function provisionConsumer(ref: StreamRef, group: string, ackWaitMs: number): Promise<void> {
    const durable = names.durableOf(group);
    const ackWait = nanos(ackWaitMs);
    let exists = false;
    try {
      const info = await jsm.consumers.info(ref.name, durable);
      exists = true;
      if (info.config.ack_wait !== ackWait && opts.provision === 'create') {
        // The last subscriber's lease length wins; a failed update keeps the old one.
        await jsm.consumers
          .update(ref.name, durable, { ack_wait: ackWait, max_ack_pending: opts.maxAckPending })
          .catch((err: unknown) => logger.warn({ err, stream: ref.name, durable }, 'could not update ack_wait'));
      }
    } catch (err) {
      if (!isConsumerMissing(err)) throw unavailable(`cannot look up consumer ${durable} on ${ref.name}`, err);
    }
    if (!exists) {
      if (opts.provision === 'verify') {
        throw new NotFoundError(`consumer ${durable} of group "${group}" on stream ${ref.name} does not exist (provision: 'verify')`);
      }
      try {
        await jsm.consumers.add(ref.name, {
          durable_name: durable,
          description: `jobbus group ${group} of ${ref.topic}`,
          ack_policy: jsmod.AckPolicy.Explicit,
          ack_wait: ackWait,
          deliver_policy: jsmod.DeliverPolicy.All,
          // Attempts live in job_attempt; the server must never drop a message on its own.
          max_deliver: -1,
          max_ack_pending: opts.maxAckPending,
        });
      } catch (err) {
        if (ref.workqueue && apiCode(err) !== undefined && /workqueue|overlap|filtered/i.test(describe(err))) {
          throw new ConflictError(
            `queue "${ref.topic}" uses WorkQueue retention, which allows one consumer group; group "${group}" cannot be added (use queueRetention 'acked')`,
            { cause: err },
          );
        }
        // Another subscriber may have created it meanwhile; the info below decides.
        if (!(await jsm.consumers.info(ref.name, durable).then(() => true, () => false))) {
          throw unavailable(`cannot create consumer ${durable} on ${ref.name}`, err);
        }
      }
    }
  }

  function consumerFor(topic: string, group: string, ackWaitMs: number, refresh: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      let ref = await streamFor(topic);
      // Keyed by ack wait too: a subscriber with another lease length updates the consumer.
      const k = `${ref.name}\u0000${group}\u0000${ackWaitMs}`;
      if (refresh) {
        forgetStream(topic, ref.name);
        ref = await streamFor(topic);
      }
      let p = consumers.get(k);
      if (!p) {
        p = provisionConsumer(ref, group, ackWaitMs);
        consumers.set(k, p);
        p.catch(() => consumers.delete(k));
      }
      return p;
    };
    return run();
  }

  async function publishOne(topic: string, message: Message, dueAt: number | undefined, retry = true): Promise<void> {
    const ref = await streamFor(topic);
    const h = transport.headers();
    writeHeaders(h, message, dueAt);
    const msgID = msgIdOf(topic, message);
    if (msgID !== undefined) h.set('Nats-Msg-Id', msgID);
    try {
      await publisher.publish(ref.subject, message.value, h, opts.publishTimeoutMs);
    } catch (err) {
      const failure = err instanceof PublishFailedError ? err.failure : undefined;
      if (retry && opts.provision === 'create' && failure?.kind === 'no-stream') {
        // The stream was deleted under us (or lost by a memory-storage restart): provision again once.
        forgetStream(topic, ref.name);
        return publishOne(topic, message, dueAt, false);
      }
      if (failure?.kind === 'closed' && closed) throw new ClosedError('NATS event bus is closed', { cause: err });
      if (failure?.kind === 'no-stream') throw new NotFoundError(`no stream binds ${ref.subject} (queue "${topic}")`, { cause: err });
      throw unavailable(`publish to queue "${topic}" failed`, err);
    }
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

  /** Stored messages of a stream, newest first, read `BROWSE_CHUNK` sequences at a time. */
  async function* newestFirst(ref: StreamRef): AsyncGenerator<BrowsedMessage> {
    const info = await jsm.streams.info(ref.name);
    const first = info.state.first_seq;
    for (let hi = info.state.last_seq; hi >= first && info.state.messages > 0; hi -= BROWSE_CHUNK) {
      const seqs: number[] = [];
      for (let s = hi; s > hi - BROWSE_CHUNK && s >= first; s--) seqs.push(s);
      const got = await Promise.all(
        seqs.map((seq) =>
          jsm.streams.getMessage(ref.name, { seq }).catch((err: unknown) => {
            if (apiCode(err) === 10037) return null; // deleted or purged
            throw err;
          }),
        ),
      );
      for (const m of got) {
        if (!m) continue;
        const { message } = readMessage(m.data, m.header);
        yield { ...message, position: `${ref.name}#${m.seq}`, publishedAt: m.time };
      }
    }
  }

  async function existingStream(topic: string): Promise<StreamRef | undefined> {
    try {
      return await streamFor(topic);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  const bus: NatsEventBus = {
    connection: nc,
    streamOf: (topic) => names.streamOf(topic),
    subjectOf: (topic) => names.subjectOf(topic),

    async publish(topic, message, o) {
      assertOpen();
      checkMessage(message);
      await publishOne(topic, message, dueAtOf(o));
    },

    async publishBatch(topic, messages, o) {
      assertOpen();
      if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
      messages.forEach(checkMessage);
      const dueAt = dueAtOf(o);
      await streamFor(topic);
      // Pipelined: every publish is on the wire before the first PubAck is awaited, and
      // one connection keeps their order.
      const results = await Promise.allSettled(messages.map((m) => publishOne(topic, m, dueAt)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },

    async subscribe(topic, handler, so: SubscribeOptions) {
      assertOpen();
      if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
      if (!so || typeof so.group !== 'string' || so.group.trim() === '') {
        throw new InvalidArgumentError('subscribe options need a non-empty consumer group');
      }
      const maxInFlight = so.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
      if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
        throw new InvalidArgumentError(`maxInFlight must be an integer >= 1, got ${maxInFlight}`);
      }
      const ackTimeoutMs = so.ackTimeoutMs ?? opts.defaultAckTimeoutMs;
      const ref = await streamFor(topic);
      await consumerFor(topic, so.group, ackTimeoutMs, false);
      if (!ref.retained && !ref.workqueue && !cleanable.has(ref.name)) cleanable.set(ref.name, 0);
      const sub = startSubscriber({
        topic,
        group: so.group,
        stream: ref.name,
        durable: names.durableOf(so.group),
        handler,
        maxInFlight,
        ackTimeoutMs,
        redeliveryDelayMs: so.redeliveryDelayMs ?? DEFAULT_REDELIVERY_DELAY_MS,
        ordering: so.ordering ?? 'key',
        ackMode: opts.ackMode,
        pullExpiresMs: opts.pullExpiresMs,
        settleTimeoutMs: CLOSE_TIMEOUT_MS,
        logger,
        nc,
        inbox: transport.createInbox(),
        ensureConsumer: (refresh) => consumerFor(topic, so.group, ackTimeoutMs, refresh),
        onClosed: () => subscribers.delete(sub),
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
      const ref = await existingStream(topic);
      if (!ref || limit === 0) return [];
      const out: BrowsedMessage[] = [];
      try {
        for await (const m of newestFirst(ref)) {
          out.push(m);
          if (out.length >= limit) break;
        }
      } catch (err) {
        throw unavailable(`cannot browse queue "${topic}"`, err);
      }
      return out;
    },

    async remove(topic, select) {
      assertOpen();
      if (typeof select !== 'function') throw new InvalidArgumentError('select must be a function');
      const ref = await existingStream(topic);
      if (!ref) return 0;
      let removed = 0;
      try {
        for await (const m of newestFirst(ref)) {
          if (!select(m)) continue;
          const seq = Number(m.position.slice(m.position.lastIndexOf('#') + 1));
          if (await jsm.streams.deleteMessage(ref.name, seq, false).catch((err: unknown) => {
            if (apiCode(err) === 10057 || apiCode(err) === 10037) return false; // gone meanwhile
            throw err;
          })) {
            removed++;
          }
        }
      } catch (err) {
        throw unavailable(`cannot remove messages from queue "${topic}"`, err);
      }
      return removed;
    },

    async cleanup() {
      let purged = 0;
      for (const [stream, done] of cleanable) {
        if (closed) break;
        let floor = Infinity;
        let any = false;
        try {
          for await (const ci of jsm.consumers.list(stream)) {
            if (ci.config.ack_policy !== jsmod.AckPolicy.Explicit || !ci.config.durable_name) continue;
            any = true;
            floor = Math.min(floor, ci.ack_floor.stream_seq);
          }
        } catch (err) {
          if (isStreamMissing(err)) cleanable.delete(stream);
          continue;
        }
        if (!any || floor <= done) continue;
        // Everything at or below every group's ack floor is settled by all groups.
        const r = await jsm.streams.purge(stream, { seq: floor + 1 });
        purged += r.purged;
        cleanable.set(stream, floor);
      }
      return purged;
    },
  };
  return bus;
}

type WithName<T> = Partial<T> & { name: string };

/** `p`'s value, or false once `ms` passed. */
function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function nanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}
