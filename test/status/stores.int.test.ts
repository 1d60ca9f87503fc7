/**
 * The status-store cases on the machine's Redis and NATS (a missing service fails the run),
 * plus what only one store has: the URL form, your client left open, the bucket's max age.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { ConflictError } from '../../src/errors.js';
import { createNatsKvStatusStore, createRedisStatusStore } from '../../src/index.js';
import { natsUrl, redisUrl, uniqueName } from '../setup/env.js';
import { deleteStreams } from '../nats/helpers.js';
import { status, statusStoreCases } from './store-cases.js';

const run = uniqueName('status').replace(/-/g, '_');
const redisPrefix = `jobbus-test:${run}:`;
const bucketPrefix = `T_${run}`.toUpperCase();
let stores = 0;
const redisClients: ReturnType<typeof createClient>[] = [];
const natsConnections: NatsConnection[] = [];

async function redisClient(): Promise<ReturnType<typeof createClient>> {
  const c = await createClient({ url: redisUrl() }).connect();
  redisClients.push(c);
  return c;
}
async function natsConnection(): Promise<NatsConnection> {
  const nc = await connect({ servers: natsUrl() });
  natsConnections.push(nc);
  return nc;
}

afterAll(async () => {
  const redis = await createClient({ url: redisUrl() }).connect();
  for await (const keys of redis.scanIterator({ MATCH: `${redisPrefix}*` })) if (keys.length) await redis.del(keys);
  await redis.close();
  await Promise.allSettled(redisClients.map((c) => c.close()));
  await Promise.allSettled(natsConnections.map((nc) => nc.close()));
  await deleteStreams(natsUrl(), bucketPrefix);
});

// Each store its own prefix (Redis) or bucket (NATS); a sibling shares it through another client, like another process.
const redisPrefixes = new WeakMap<object, string>();
statusStoreCases('Redis', {
  make: async (ttlMs) => {
    const prefix = `${redisPrefix}${++stores}:`;
    const store = createRedisStatusStore({ client: await redisClient(), prefix, ttlMs });
    redisPrefixes.set(store, prefix);
    return store;
  },
  sibling: async (first) => createRedisStatusStore({ url: redisUrl(), prefix: redisPrefixes.get(first)!, ttlMs: 60_000 }),
  makeUnreachable: () => createRedisStatusStore({ url: 'redis://127.0.0.1:1', timeoutMs: 2_000 }),
  ttlMs: 1_500,
});

const natsBuckets = new WeakMap<object, { bucket: string; ttlMs: number }>();
statusStoreCases('NATS KV', {
  make: async (ttlMs) => {
    const bucket = `${bucketPrefix}_${++stores}`;
    const store = createNatsKvStatusStore({ connection: await natsConnection(), bucket, ttlMs });
    natsBuckets.set(store, { bucket, ttlMs });
    return store;
  },
  sibling: async (first) => createNatsKvStatusStore({ connection: await natsConnection(), ...natsBuckets.get(first)! }),
  makeUnreachable: async () => {
    const nc = await connect({ servers: natsUrl() });
    await nc.close();
    return createNatsKvStatusStore({ connection: nc, bucket: `${bucketPrefix}_down` });
  },
  ttlMs: 1_500,
});

describe('status stores on your own client', () => {
  it('Redis: your client is left open on close(); the URL form connects and disconnects itself', async () => {
    const client = await redisClient();
    const mine = createRedisStatusStore({ client, prefix: `${redisPrefix}own:` });
    await mine.record(status('own-1', 'pending'));
    await mine.close?.();
    expect(await client.ping()).toBe('PONG');
    expect(await client.pTTL(`${redisPrefix}own:own-1`)).toBeGreaterThan(86_000_000);
    const byUrl = createRedisStatusStore({ url: redisUrl(), prefix: `${redisPrefix}own:` });
    expect((await byUrl.get('own-1'))?.state).toBe('pending');
    await byUrl.close?.();
    await expect(byUrl.get('own-1')).rejects.toThrow(/closed/);
  });

  it('NATS KV: takes your bucket as it is; refuses one whose max age or history does not fit', async () => {
    const nc = await natsConnection();
    const kvm = new Kvm(nc);
    const kv = await kvm.create(`${bucketPrefix}_given`, { history: 1, ttl: 60_000 });
    const store = createNatsKvStatusStore({ kv });
    await store.record(status('given-1', 'processing'));
    expect((await store.get('given-1'))?.state).toBe('processing');
    expect((await kv.get('given-1'))?.json()).toMatchObject({ jobId: 'given-1', state: 'processing' });
    // The existing bucket keeps its max age: asking for another is a conflict, asking none opens it.
    await expect(createNatsKvStatusStore({ connection: nc, bucket: `${bucketPrefix}_given`, ttlMs: 5_000 }).get('x')).rejects.toBeInstanceOf(ConflictError);
    expect((await createNatsKvStatusStore({ connection: nc, bucket: `${bucketPrefix}_given` }).get('given-1'))?.state).toBe('processing');
    const deep = await kvm.create(`${bucketPrefix}_deep`, { history: 5 });
    await expect(createNatsKvStatusStore({ kv: deep }).snapshot()).rejects.toBeInstanceOf(ConflictError);
    expect(nc.isClosed()).toBe(false);
  });
});
