/**
 * NATS KV lock provider on `@nats-io/kv` (optional peers, loaded when a provider is created).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV, Kvm } from '@nats-io/kv';
import { InvalidArgumentError, UnavailableError } from '../../errors.js';
import type { LockHandle, LockProvider } from '../types.js';
import { checkKey, checkTick, checkTtl, closedError, loadPeer, lostLock, newToken, withDeadline } from './common.js';
import { encodeKvKey, isWrongSequence, parseToken, recordForward } from './nats-kv-support.js';

/** Where the provider's NATS is: server URLs (the provider connects and closes), or your connection (left open). */
export type NatsKvLockTarget = { readonly servers: string | readonly string[] } | { readonly connection: NatsConnection };

/** Options of {@link createNatsKvLockProvider}. */
export interface NatsKvLockProviderOptions {
  /** Prefix of the provider's buckets: `<bucket>_fired`, and `<bucket>_locks_<ttl ms>` per lock TTL. Default `jobbus_sched`. */
  readonly bucket?: string;
  /** Replicas of the buckets. Default 1. Clustered (R3) locks need nats-server 2.9.21 or later (see the TSDoc). */
  readonly replicas?: number;
  /** Longest one KV call may take before it fails with an `UnavailableError`, ms. Default 5 000. */
  readonly timeoutMs?: number;
}

interface Opened {
  readonly kvm: Kvm;
  readonly close: () => Promise<void>;
  readonly nc: NatsConnection;
}

/**
 * Locks as keys of NATS KV buckets. KV TTL is per bucket on nats-server 2.9/2.10 (per-message
 * TTL arrived in 2.11 and is not used), so each lock TTL gets its own bucket whose `ttl` is
 * that TTL: acquire = `create` (fails when the key exists), renew = `update` at the revision
 * read with the token, release = `delete` at that revision. An expired key is removed by the
 * server and can be created again. The last fired tick of each task lives in `<bucket>_fired`
 * (no TTL), moved forward only by revision-checked writes.
 *
 * Known server behaviour this relies on or avoids:
 * - `create` over a delete marker is read-then-update in the client; a concurrent delete
 *   can make it fail with "wrong last sequence" (nats-server#3895, #5162): that reads here as
 *   "held", the safe side. Keys are per (task, tick), so such races are rare.
 * - Up to nats-server 2.9.20, a clustered (R>1) stream checked the expected last subject
 *   sequence outside consensus, so two concurrent creates could both win (nats-server#4320).
 *   A single server (R1) is exact; for R3 buckets run 2.9.21 or later. Avoid 2.10.19, whose
 *   R1 compare-and-set regression (#5841) was fixed in 2.10.20.
 * - Renew writes the key again, which restarts the bucket's TTL for it; a `ttlMs` longer
 *   than the acquire's TTL cannot be honoured and is an `InvalidArgumentError`.
 *
 * Connection states (servers form): connecting -> open -> closed (the client reconnects
 * forever while open; calls during an outage fail after `timeoutMs`).
 */
export function createNatsKvLockProvider(target: NatsKvLockTarget, options: NatsKvLockProviderOptions = {}): LockProvider {
  const prefix = options.bucket ?? 'jobbus_sched';
  const timeoutMs = options.timeoutMs ?? 5_000;
  const replicas = options.replicas ?? 1;
  if (!/^[-\w]{1,100}$/.test(prefix)) throw new InvalidArgumentError(`bucket must be letters, digits, - and _, got "${prefix}"`);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new InvalidArgumentError('replicas must be 1 to 5');
  checkTtl(timeoutMs);
  let opened: Promise<Opened> | undefined;
  const buckets = new Map<string, Promise<KV>>();
  let closed = false;

  const open = (): Promise<Opened> => {
    if (!opened) {
      const attempt = openKv(target, timeoutMs);
      // A failed connect is tried again by the next call (NATS may come up later).
      attempt.catch(() => {
        if (opened === attempt) opened = undefined;
      });
      opened = attempt;
    }
    return opened;
  };
  // Opening a bucket creates it if missing (same config from every instance, so a race is harmless).
  const bucket = (name: string, ttlMs: number): Promise<KV> => {
    let kv = buckets.get(name);
    if (!kv) {
      kv = open().then((o) => o.kvm.create(name, { history: 1, ttl: ttlMs, replicas }));
      kv.catch(() => buckets.delete(name));
      buckets.set(name, kv);
    }
    return kv;
  };
  const locks = (ttlMs: number) => bucket(`${prefix}_locks_${ttlMs}`, ttlMs);
  const fired = () => bucket(`${prefix}_fired`, 0);
  const run = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    if (closed) throw closedError('NATS KV');
    try {
      return await withDeadline(op(), timeoutMs, () => new UnavailableError(`NATS KV ${what}: no answer within ${timeoutMs} ms`));
    } catch (err) {
      if (err instanceof UnavailableError || err instanceof InvalidArgumentError || isWrongSequence(err)) throw err;
      throw new UnavailableError(`NATS KV ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  };
  /** The revision of `key` if it still holds `token`. */
  const ownedRevision = async (kv: KV, key: string, token: string): Promise<number | undefined> => {
    const entry = await kv.get(key);
    return entry?.operation === 'PUT' && entry.string() === token ? entry.revision : undefined;
  };

  return {
    async acquire(key: string, ttlMs: number): Promise<LockHandle | undefined> {
      checkKey('key', key);
      checkTtl(ttlMs);
      const token = `${ttlMs}.${newToken()}`;
      const start = Date.now();
      try {
        await run('acquire', async () => (await locks(ttlMs)).create(encodeKvKey(key), token));
      } catch (err) {
        if (isWrongSequence(err)) return undefined;
        throw err;
      }
      return { key, token, expiresAt: new Date(start + ttlMs) };
    },
    async renew(lock: LockHandle, ttlMs: number): Promise<LockHandle> {
      checkTtl(ttlMs);
      const bucketTtl = parseToken(lock.token);
      if (ttlMs > bucketTtl) throw new InvalidArgumentError(`NATS KV renews to the acquire's TTL (${bucketTtl} ms) at most; asked ${ttlMs} ms`);
      const start = Date.now();
      const ok = await run('renew', async () => {
        const kv = await locks(bucketTtl);
        const ek = encodeKvKey(lock.key);
        const revision = await ownedRevision(kv, ek, lock.token);
        if (revision === undefined) return false;
        return kv.update(ek, lock.token, revision).then(() => true, (err: unknown) => (isWrongSequence(err) ? false : Promise.reject(err)));
      });
      if (!ok) throw lostLock(lock.key);
      return { key: lock.key, token: lock.token, expiresAt: new Date(start + bucketTtl) };
    },
    async release(lock: LockHandle): Promise<void> {
      const bucketTtl = parseToken(lock.token);
      await run('release', async () => {
        const kv = await locks(bucketTtl);
        const ek = encodeKvKey(lock.key);
        const revision = await ownedRevision(kv, ek, lock.token);
        // A revision mismatch means someone else holds it now: leave their lock alone.
        if (revision !== undefined) await kv.delete(ek, { previousSeq: revision }).catch((err: unknown) => (isWrongSequence(err) ? undefined : Promise.reject(err)));
      });
    },
    async lastFired(task: string): Promise<Date | undefined> {
      checkKey('task', task);
      const entry = await run('lastFired', async () => (await fired()).get(encodeKvKey(task)));
      return entry?.operation === 'PUT' ? new Date(Number(entry.string())) : undefined;
    },
    async recordFired(task: string, tick: Date): Promise<void> {
      checkKey('task', task);
      checkTick(tick);
      await run('recordFired', async () => recordForward(await fired(), encodeKvKey(task), tick.getTime()));
    },
    async healthCheck(): Promise<void> {
      await run('status', async () => {
        const o = await open();
        if (o.nc.isClosed()) throw new UnavailableError('NATS connection is closed');
        await (await fired()).status();
      });
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const o = opened;
      opened = undefined;
      buckets.clear();
      if (o) await o.then((x) => x.close()).catch(() => undefined);
    },
  };
}

async function openKv(target: NatsKvLockTarget, timeoutMs: number): Promise<Opened> {
  const { Kvm } = await loadPeer('@nats-io/kv', 'NATS KV', () => import('@nats-io/kv'));
  if ('connection' in target) {
    return { nc: target.connection, kvm: new Kvm(target.connection), close: async () => undefined };
  }
  const { connect } = await loadPeer('@nats-io/transport-node', 'NATS KV', () => import('@nats-io/transport-node'));
  const servers = typeof target.servers === 'string' ? target.servers : [...target.servers];
  let nc: NatsConnection;
  try {
    // Reconnect forever: a NATS restart must not need a process restart.
    nc = await connect({ servers, timeout: timeoutMs, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  } catch (err) {
    throw new UnavailableError(`cannot connect to NATS at ${String(servers)}: ${(err as Error).message}`, { cause: err });
  }
  return { nc, kvm: new Kvm(nc), close: () => nc.close() };
}
