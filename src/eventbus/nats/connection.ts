/**
 * The bus's connection: opened (or taken from the options), watched, and closed within a bound.
 *
 *   connected --disconnect--> disconnected --reconnect--> connected (subscribers pull again)
 *
 * The client reconnects forever; `healthCheck()` reports `disconnected` as unavailable.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { JetStreamManager } from '@nats-io/jetstream';
import { UnavailableError } from '../../errors.js';
import type { JetStreamModule, TransportModule } from './modules.js';
import type { NatsEventBusOptions } from './options.js';
import { natsAuthError } from './publish-errors.js';
import { describe } from './unavailable.js';

/** An open connection with JetStream checked. */
export interface OpenConnection {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** Drain and close it in the bus's `close()`. */
  readonly ownsConnection: boolean;
}

/** Connect (or take `options.connection`) and check JetStream answers within `timeoutMs`. */
export async function openConnection(
  options: NatsEventBusOptions,
  modules: { transport: TransportModule; jsmod: JetStreamModule },
  timeoutMs: number,
): Promise<OpenConnection> {
  const nc = options.connection ?? (await connect(options, modules.transport));
  const ownsConnection = options.ownsConnection ?? !options.connection;
  try {
    return { nc, ownsConnection, jsm: await modules.jsmod.jetstreamManager(nc, { timeout: timeoutMs }) };
  } catch (err) {
    if (ownsConnection) await nc.close().catch(() => undefined);
    throw new UnavailableError(`NATS JetStream is not available: ${describe(err)}`, { cause: err });
  }
}

async function connect(options: NatsEventBusOptions, transport: TransportModule): Promise<NatsConnection> {
  const servers = options.servers ?? 'nats://127.0.0.1:4222';
  try {
    return await transport.connect({
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

/** Throws an UnavailableError when the connection is closed or down, or JetStream does not answer. */
export async function checkHealth(conn: OpenConnection, connected: boolean): Promise<void> {
  if (conn.nc.isClosed()) throw new UnavailableError('NATS connection is closed');
  if (!connected) throw new UnavailableError('NATS connection is down; reconnecting');
  try {
    await conn.jsm.getAccountInfo();
  } catch (err) {
    throw new UnavailableError(`NATS JetStream does not answer: ${describe(err)}`, { cause: err });
  }
}

/** What the bus does on connection events. */
export interface ConnectionEvents {
  /** The connection is back: the server forgot its pull requests. */
  reconnected(): void;
  /** The server refused a publish to `subject` asynchronously (a permissions violation). */
  publishRefused(subject: string, description: string): void;
}

/** Watch `nc`'s status until it closes; returns whether it is connected now. */
export function watchConnection(nc: NatsConnection, on: ConnectionEvents): () => boolean {
  let connected = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') connected = false;
      else if (s.type === 'reconnect') {
        connected = true;
        on.reconnected();
      } else if (s.type === 'error') {
        const subject = /permissions violation for publish to "([^"]+)"/i.exec(describe(s.error))?.[1];
        if (subject !== undefined) on.publishRefused(subject, describe(s.error));
      }
    }
  })().catch(() => undefined);
  return () => connected;
}

/** Drain and close `nc`, or close it once `timeoutMs` passed (drain waits for an absent server). */
export async function closeConnection(nc: NatsConnection, timeoutMs: number): Promise<void> {
  if (nc.isClosed()) return;
  const drained = await within(nc.drain().then(() => true, () => false), timeoutMs);
  if (!drained) await nc.close().catch(() => undefined);
}

/** `p`'s value, or false once `ms` passed. */
function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
