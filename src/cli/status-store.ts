/**
 * The job-status store of the configuration (`jobs.status`): Redis (by URL) or NATS KV (on the
 * bus's own NATS connection, or one opened to `status.url`). Made through the factories of
 * src/status/, loaded only when configured.
 */
import { NotInitializedError, ValidationError, describeError } from '../errors.js';
import type { EventBus } from '../eventbus/types.js';
import type { CliConfig } from './config-schema.js';

/** A status store and how to release what was opened for it. */
export interface OpenedStore {
  readonly store: unknown;
  close(): Promise<void>;
}

/** The status factories as the command uses them (src/status/). */
interface StatusModule {
  createRedisStatusStore?(options: Record<string, unknown>): unknown;
  createNatsKvStatusStore?(options: Record<string, unknown>): unknown;
}

// A variable specifier: the status module is optional at build time of this file.
const STATUS_MODULE = '../status/index.js';

async function loadStatusModule(): Promise<StatusModule> {
  try {
    return (await import(STATUS_MODULE)) as StatusModule;
  } catch (err) {
    throw new NotInitializedError(`the job-status store is not available in this version of jobbus (${describeError(err).slice(0, 200)})`, { cause: err });
  }
}

function connectionOf(bus: EventBus | undefined): unknown {
  return bus && 'connection' in bus ? (bus as { connection: unknown }).connection : undefined;
}

/** The configured store, or undefined when `jobs.status` is not set. */
export async function statusStoreOf(config: CliConfig, bus: EventBus | undefined): Promise<OpenedStore | undefined> {
  const s = config.status;
  if (!s) return undefined;
  const mod = await loadStatusModule();
  const ttl = s.ttlMs !== undefined ? { ttlMs: s.ttlMs } : {};
  if (s.store === 'redis') {
    if (!s.url) throw new ValidationError('status.url', 'the Redis status store needs its URL: pass --status-url, set JOBBUS_STATUS_URL or `jobs.status.url`');
    if (!mod.createRedisStatusStore) throw new NotInitializedError('this version of jobbus has no Redis status store');
    const store = mod.createRedisStatusStore({ url: s.url, ...(s.prefix !== undefined && { prefix: s.prefix }), ...ttl });
    return { store, close: () => closeStore(store) };
  }
  if (!mod.createNatsKvStatusStore) throw new NotInitializedError('this version of jobbus has no NATS KV status store');
  let own: EventBus | undefined;
  let connection = s.url ? undefined : connectionOf(bus);
  if (connection === undefined) {
    const { createNatsEventBus } = await import('../eventbus/nats/index.js');
    own = await createNatsEventBus({ servers: (s.url ?? 'nats://127.0.0.1:4222').split(','), connectionOptions: { timeout: config.connectTimeoutMs } });
    connection = connectionOf(own);
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

async function closeStore(store: unknown): Promise<void> {
  const close = (store as { close?: () => Promise<void> } | undefined)?.close;
  if (typeof close === 'function') await close.call(store).catch(() => undefined);
}
