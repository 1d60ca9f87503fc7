/**
 * The lock-provider conformance suite on the machine's Redis, PostgreSQL and NATS, plus what
 * only one provider has (its own client left open, table creation, sweeps, key encoding).
 */
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createClient } from 'redis';
import { connect } from '@nats-io/transport-node';
import { InvalidArgumentError } from '../../../src/errors.js';
import { createRedisLockProvider } from '../../../src/scheduler/locks/redis.js';
import { createPostgresLockProvider } from '../../../src/scheduler/locks/postgres.js';
import { createNatsKvLockProvider } from '../../../src/scheduler/locks/nats-kv.js';
import { natsUrl, pgUrl, redisUrl, uniqueName } from '../../setup/env.js';
import { deleteStreams } from '../../nats/helpers.js';
import { waitFor } from '../../support/wait.js';
import { lockProviderConformance } from './conformance.js';

const run = uniqueName('locks').replace(/-/g, '_');
const redisPrefix = `jobbus-test:${run}:`;
const table = `locks_${run}`;
const bucket = `T_${run}`.toUpperCase();

afterAll(async () => {
  const redis = await createClient({ url: redisUrl() }).connect();
  for await (const keys of redis.scanIterator({ MATCH: `${redisPrefix}*` })) if (keys.length) await redis.del(keys);
  await redis.close();
  const pool = new pg.Pool({ connectionString: pgUrl() });
  await pool.query(`DROP TABLE IF EXISTS "${table}", "${table}_fired"`);
  await pool.end();
  await deleteStreams(natsUrl(), bucket);
});

lockProviderConformance('Redis', {
  make: () => createRedisLockProvider({ url: redisUrl() }, { prefix: redisPrefix }),
  makeUnreachable: () => createRedisLockProvider({ url: 'redis://127.0.0.1:1' }, { timeoutMs: 2_000 }),
  ttlMs: 1_000,
});

lockProviderConformance('PostgreSQL', {
  make: () => createPostgresLockProvider({ connectionString: pgUrl() }, { table }),
  makeUnreachable: () => createPostgresLockProvider({ connectionString: 'postgres://postgres@127.0.0.1:1/test' }, { timeoutMs: 2_000 }),
  ttlMs: 1_000,
});

lockProviderConformance('NATS KV', {
  make: () => createNatsKvLockProvider({ servers: natsUrl() }, { bucket }),
  makeUnreachable: () => createNatsKvLockProvider({ servers: 'nats://127.0.0.1:1' }, { bucket, timeoutMs: 2_000 }),
  ttlMs: 1_000,
});

describe('lock providers on a client of your own', () => {
  it('Redis: uses your node-redis client and leaves it open on close()', async () => {
    const client = await createClient({ url: redisUrl() }).connect();
    const p = createRedisLockProvider({ client }, { prefix: redisPrefix });
    expect(await p.acquire('own-client', 5_000)).toBeDefined();
    await p.close();
    expect(await client.ping()).toBe('PONG');
    await client.close();
  });

  it('PostgreSQL: uses your pool and leaves it open on close()', async () => {
    const pool = new pg.Pool({ connectionString: pgUrl() });
    const p = createPostgresLockProvider({ pool }, { table });
    expect(await p.acquire('own-pool', 5_000)).toBeDefined();
    await p.close();
    expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    await pool.end();
  });

  it('NATS KV: uses your connection and leaves it open on close()', async () => {
    const nc = await connect({ servers: natsUrl() });
    const p = createNatsKvLockProvider({ connection: nc }, { bucket });
    expect(await p.acquire('own-connection', 5_000)).toBeDefined();
    await p.close();
    expect(nc.isClosed()).toBe(false);
    await nc.close();
  });
});

describe('PostgreSQL lock table', () => {
  it('is created once when several instances start on a new table at the same time', async () => {
    const fresh = `${table}_race`;
    const ps = Array.from({ length: 4 }, () => createPostgresLockProvider({ connectionString: pgUrl() }, { table: fresh }));
    const got = await Promise.all(ps.map((p) => p.acquire('first-use', 5_000)));
    expect(got.filter(Boolean)).toHaveLength(1);
    await Promise.all(ps.map((p) => p.close()));
    const pool = new pg.Pool({ connectionString: pgUrl() });
    await pool.query(`DROP TABLE IF EXISTS "${fresh}", "${fresh}_fired"`);
    await pool.end();
  });

  it('deletes long-expired rows (rows are per task and tick)', async () => {
    const p = createPostgresLockProvider({ connectionString: pgUrl() }, { table });
    await p.healthCheck();
    await p.lastFired('create-tables'); // creates the tables
    const pool = new pg.Pool({ connectionString: pgUrl() });
    await pool.query(`INSERT INTO "${table}" (key, token, expires_at) VALUES ('stale', 't', now() - interval '2 minutes')`);
    await p.acquire('sweep-trigger', 5_000); // the first acquire of a provider sweeps
    await waitFor(async () => (await pool.query(`SELECT 1 FROM "${table}" WHERE key = 'stale'`)).rowCount === 0, 'the stale row to go');
    await pool.end();
    await p.close();
  });

  it('rejects a table name that is not a plain identifier', () => {
    expect(() => createPostgresLockProvider({ connectionString: pgUrl() }, { table: 'x; DROP TABLE y' })).toThrow(InvalidArgumentError);
  });
});

describe('NATS KV specifics', () => {
  it('takes lock keys KV would refuse (ISO times, spaces, dots) and keeps them apart', async () => {
    const p = createNatsKvLockProvider({ servers: natsUrl() }, { bucket });
    const keys = ['task@2026-03-29T01:00:00.000Z', 'task@2026-03-29T01=3A00', 'a.b', 'a b', '.lead', 'é'];
    const got = await Promise.all(keys.map((k) => p.acquire(k, 5_000)));
    expect(got.every(Boolean)).toBe(true);
    await p.close();
  });

  it('renews up to the acquire TTL (the bucket TTL), and refuses a longer one', async () => {
    const p = createNatsKvLockProvider({ servers: natsUrl() }, { bucket });
    const held = (await p.acquire('renew-ttl', 2_000))!;
    await expect(p.renew(held, 5_000)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await p.renew(held, 1_000)).expiresAt.getTime()).toBeGreaterThanOrEqual(held.expiresAt.getTime());
    await p.close();
  });
});
