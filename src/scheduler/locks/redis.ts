/**
 * Redis lock provider on node-redis v5 (the optional `redis` peer, loaded when a provider is
 * created from a URL).
 */
import { InvalidArgumentError, UnavailableError } from '../../errors.js';
import type { LockHandle, LockProvider } from '../types.js';
import { checkKey, checkTick, checkTtl, closedError, lostLock, newToken, withDeadline } from './common.js';
import { openRedisClient, type RedisConnection } from './store-clients.js';

/**
 * The few node-redis client methods the provider uses; a node-redis v5 `createClient()` result
 * (connected by you) fits. Cluster clients are not supported.
 */
export interface RedisLockClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Where the provider's Redis is: a URL (the provider connects and closes), or your connected client (left open). */
export type RedisLockTarget = { readonly url: string } | { readonly client: RedisLockClient };

/** Options of {@link createRedisLockProvider}. */
export interface RedisLockProviderOptions {
  /** Prefix of every key the provider writes. Default `jobbus:sched:`. */
  readonly prefix?: string;
  /** Longest one Redis call may take before it fails with an `UnavailableError`, ms. Default 5 000. */
  readonly timeoutMs?: number;
}

// Token-checked scripts: the GET and the change are one atomic step on the server.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;
// Moves the last-fired tick (ms since the epoch) forward only.
const RECORD = `local cur = redis.call('get', KEYS[1])
if (not cur) or tonumber(cur) < tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1]) return 1 end
return 0`;


/**
 * Locks as Redis keys: acquire is `SET key token NX PX ttl`; renew and release are Lua scripts
 * that check the token (one round trip each). The last fired tick of each task is a key
 * written by a script that only moves it forward.
 *
 * Redis's own guarantees apply: on a replicated Redis a failover can lose a just-taken lock;
 * use one primary (or PostgreSQL) when that matters. Times in the returned handles are this
 * process's clock plus the TTL, measured before the request (so never later than Redis's).
 *
 * Connection states (URL form): connecting (the client retries in the background) -> ready
 * -> closed. Calls wait for `ready` at most `timeoutMs`, then fail with `UnavailableError`.
 */
export function createRedisLockProvider(target: RedisLockTarget, options: RedisLockProviderOptions = {}): LockProvider {
  const prefix = options.prefix ?? 'jobbus:sched:';
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string');
  checkTtl(timeoutMs);
  let connection: Promise<RedisConnection> | undefined;
  let closed = false;

  const connect = (): Promise<RedisConnection> => {
    if ('client' in target) return Promise.resolve({ client: target.client, close: async () => undefined });
    connection ??= openRedisClient(target.url, timeoutMs, { name: 'Redis', kind: 'lock provider' });
    return connection;
  };
  const run = async (what: string, args: string[]): Promise<unknown> => {
    if (closed) throw closedError('Redis');
    const call = connect().then(({ client }) => client.sendCommand(args));
    try {
      return await withDeadline(call, timeoutMs, () => new UnavailableError(`Redis ${what}: no answer within ${timeoutMs} ms`));
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`Redis ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const lockKey = (key: string): string => `${prefix}lock:${key}`;

  return {
    async acquire(key: string, ttlMs: number): Promise<LockHandle | undefined> {
      checkKey('key', key);
      checkTtl(ttlMs);
      const token = newToken();
      const start = Date.now();
      const reply = await run('acquire', ['SET', lockKey(key), token, 'NX', 'PX', String(ttlMs)]);
      return reply === null ? undefined : { key, token, expiresAt: new Date(start + ttlMs) };
    },
    async renew(lock: LockHandle, ttlMs: number): Promise<LockHandle> {
      checkTtl(ttlMs);
      const start = Date.now();
      const reply = await run('renew', ['EVAL', RENEW, '1', lockKey(lock.key), lock.token, String(ttlMs)]);
      if (Number(reply) !== 1) throw lostLock(lock.key);
      return { key: lock.key, token: lock.token, expiresAt: new Date(start + ttlMs) };
    },
    async release(lock: LockHandle): Promise<void> {
      await run('release', ['EVAL', RELEASE, '1', lockKey(lock.key), lock.token]);
    },
    async lastFired(task: string): Promise<Date | undefined> {
      checkKey('task', task);
      const reply = await run('lastFired', ['GET', `${prefix}fired:${task}`]);
      return reply === null || reply === undefined ? undefined : new Date(Number(reply));
    },
    async recordFired(task: string, tick: Date): Promise<void> {
      checkKey('task', task);
      checkTick(tick);
      await run('recordFired', ['EVAL', RECORD, '1', `${prefix}fired:${task}`, String(tick.getTime())]);
    },
    async healthCheck(): Promise<void> {
      const reply = await run('PING', ['PING']);
      if (reply !== 'PONG') throw new UnavailableError(`Redis PING answered ${String(reply)}`);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const open = connection;
      connection = undefined;
      // A client that never connected is destroyed by openClient's close too.
      if (open) await open.then((c) => c.close()).catch(() => undefined);
    },
  };
}

