/**
 * Helpers of the NATS tests: a bus factory whose streams all share one unique prefix, so a
 * test file can delete everything it created at the end.
 */
import pino from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createNatsEventBus, type NatsEventBus, type NatsEventBusOptions } from '../../src/eventbus/nats/index.js';
import { natsUrl, uniqueName } from '../setup/env.js';

export { natsUrl, uniqueName };

/** A namespace of streams for one test file. */
export interface NatsScope {
  /** Subject prefix of every bus made here. */
  readonly subjectPrefix: string;
  /** Stream prefix of every bus made here. */
  readonly streamPrefix: string;
  /** A new bus in this scope (closed by `cleanup`). */
  bus(options?: NatsEventBusOptions): Promise<NatsEventBus>;
  /** Close the buses and delete every stream of this scope. */
  cleanup(): Promise<void>;
}

/** Create a scope with unique subject and stream prefixes. */
export function natsScope(prefix: string, url: () => string = natsUrl): NatsScope {
  const token = uniqueName(prefix).replace(/-/g, '_');
  const subjectPrefix = `t_${token}`;
  const streamPrefix = `T_${token}`.toUpperCase();
  const buses: NatsEventBus[] = [];
  return {
    subjectPrefix,
    streamPrefix,
    async bus(options = {}) {
      const b = await createNatsEventBus({
        servers: url(),
        subjectPrefix,
        streamPrefix,
        logger: pino({ level: process.env.JOBBUS_LOG_LEVEL ?? 'silent' }),
        ...options,
      });
      buses.push(b);
      return b;
    },
    async cleanup() {
      await Promise.allSettled(buses.map((b) => b.close()));
      await deleteStreams(url(), streamPrefix);
    },
  };
}

/** Delete every stream whose name starts with `streamPrefix` (and the scope's KV buckets). */
export async function deleteStreams(url: string, streamPrefix: string): Promise<void> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: url });
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    // Queue, DLQ and delay streams, and the KV bucket of the group registry.
    for await (const n of jsm.streams.names()) if (n.startsWith(`${streamPrefix}_`) || n.startsWith(`KV_${streamPrefix}_`)) names.push(n);
    await Promise.allSettled(names.map((n) => jsm.streams.delete(n)));
  } finally {
    await nc?.close();
  }
}
