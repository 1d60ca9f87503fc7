/**
 * The job-status store of the configuration (`jobs.status`): Redis (by URL) or NATS KV (on the
 * bus's own NATS connection, or one opened to `status.url`). Made through the factories of
 * src/status/, loaded only when configured.
 */
import { ValidationError } from '../errors.js';
import type { EventBus } from '../eventbus/types.js';
import type { NatsEventBus } from '../eventbus/nats/index.js';
import type { JobStatusStore } from '../status/types.js';
import type { CliConfig } from './config-schema.js';

/** A status store and how to release what was opened for it. */
export interface OpenedStore {
  readonly store: JobStatusStore;
  close(): Promise<void>;
}

function connectionOf(bus: EventBus | undefined): NatsEventBus['connection'] | undefined {
  return bus && 'connection' in bus ? (bus as NatsEventBus).connection : undefined;
}

/** The configured store, or undefined when `jobs.status` is not set. */
export async function statusStoreOf(config: CliConfig, bus: EventBus | undefined): Promise<OpenedStore | undefined> {
  const s = config.status;
  if (!s) return undefined;
  const mod = await import('../status/index.js');
  const ttl = s.ttlMs !== undefined ? { ttlMs: s.ttlMs } : {};
  if (s.store === 'redis') {
    if (!s.url) throw new ValidationError('status.url', 'the Redis status store needs its URL: pass --status-url, set JOBBUS_STATUS_URL or `jobs.status.url`');
    const store = mod.createRedisStatusStore({ url: s.url, ...(s.prefix !== undefined && { prefix: s.prefix }), ...ttl });
    return { store, close: () => closeStore(store) };
  }
  let own: NatsEventBus | undefined;
  let connection = s.url ? undefined : connectionOf(bus);
  if (connection === undefined) {
    // No NATS bus to share: a NATS connection of its own (opened by the NATS bus factory).
    const { createNatsEventBus } = await import('../eventbus/nats/index.js');
    own = await createNatsEventBus({ servers: (s.url ?? 'nats://127.0.0.1:4222').split(','), connectionOptions: { timeout: config.connectTimeoutMs } });
    connection = own.connection;
  }
  const store = mod.createNatsKvStatusStore({ connection, ...(s.bucket !== undefined && { bucket: s.bucket }), ...ttl });
  return {
    store,
    async close() {
      await closeStore(store);
      await own?.close();
    },
  };
}

async function closeStore(store: JobStatusStore): Promise<void> {
  await store.close?.().catch(() => undefined);
}
