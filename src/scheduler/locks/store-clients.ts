/**
 * The clients the Redis and NATS KV stores open for themselves (lock providers, the job-status
 * stores): the one place outside the NATS adapter that loads `redis` and `@nats-io/kv`.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV, KvOptions } from '@nats-io/kv';
import { loadPeer } from './common.js';

export type { KV, NatsConnection };

/** A Redis client a store opened, and how to close it. */
export interface RedisConnection {
  readonly client: { sendCommand(args: string[]): Promise<unknown> };
  readonly close: () => Promise<void>;
}

/**
 * A Redis client for `url` with no offline queue (a call while disconnected fails at once
 * instead of running late); `user` names the store in the error of a missing `redis` package.
 */
export async function openRedisClient(url: string, timeoutMs: number, user: { name: string; kind: string }): Promise<RedisConnection> {
  const { createClient } = await loadPeer('redis', user.name, () => import('redis'), user.kind);
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: timeoutMs, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000) },
  });
  // Connection errors surface through the calls; without a listener node-redis would throw them.
  client.on('error', () => undefined);
  const ready = client.connect();
  ready.catch(() => undefined);
  const close = async (): Promise<void> => {
    if (client.isReady) await client.close();
    else client.destroy();
  };
  return { client: { sendCommand: (args) => ready.then(() => client.sendCommand(args)) }, close };
}

/** Open the KV bucket `name` on `connection`, creating it with `config` when missing. */
export async function openKvBucket(connection: NatsConnection, name: string, config: Partial<KvOptions>, user: { name: string; kind: string }): Promise<KV> {
  const { Kvm } = await loadPeer('@nats-io/kv', user.name, () => import('@nats-io/kv'), user.kind);
  return new Kvm(connection).create(name, config);
}
