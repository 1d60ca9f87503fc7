/**
 * In-memory lock provider: locks and last-fired records in this process's memory.
 */
import type { LockHandle, LockProvider } from '../types.js';
import { checkKey, checkTick, checkTtl, closedError, lostLock, newToken } from './common.js';

/** Options of {@link createMemoryLockProvider}. */
export interface MemoryLockProviderOptions {
  /** Clock in ms since the epoch; TTLs are measured against it (tests move it). Default `Date.now`. */
  readonly now?: () => number;
}

interface Held {
  readonly token: string;
  readonly expiresAtMs: number;
}

/**
 * Locks and last-fired records held in this process only: several schedulers in ONE process
 * may share it, but instances in different processes or machines each get their own store
 * and would all fire. Use Redis, PostgreSQL or NATS KV for more than one process.
 *
 * TTLs are honoured against `options.now`, so tests can expire locks without waiting.
 * Lock states per key: free (absent or expired) -> held (acquire) -> held (renew, same token)
 * -> free (release by the owner, or the clock passing `expiresAt`).
 */
export function createMemoryLockProvider(options: MemoryLockProviderOptions = {}): LockProvider {
  const now = options.now ?? Date.now;
  const locks = new Map<string, Held>();
  const fired = new Map<string, number>();
  let closed = false;

  const guard = (): void => {
    if (closed) throw closedError('memory');
  };
  // A held entry whose time has passed counts as absent; it is dropped when seen.
  const live = (key: string): Held | undefined => {
    const held = locks.get(key);
    if (held && held.expiresAtMs <= now()) {
      locks.delete(key);
      return undefined;
    }
    return held;
  };

  return {
    async acquire(key: string, ttlMs: number): Promise<LockHandle | undefined> {
      guard();
      checkKey('key', key);
      checkTtl(ttlMs);
      if (live(key)) return undefined;
      const held = { token: newToken(), expiresAtMs: now() + ttlMs };
      locks.set(key, held);
      return { key, token: held.token, expiresAt: new Date(held.expiresAtMs) };
    },
    async renew(lock: LockHandle, ttlMs: number): Promise<LockHandle> {
      guard();
      checkTtl(ttlMs);
      const held = live(lock.key);
      if (!held || held.token !== lock.token) throw lostLock(lock.key);
      const next = { token: held.token, expiresAtMs: now() + ttlMs };
      locks.set(lock.key, next);
      return { key: lock.key, token: next.token, expiresAt: new Date(next.expiresAtMs) };
    },
    async release(lock: LockHandle): Promise<void> {
      guard();
      if (locks.get(lock.key)?.token === lock.token) locks.delete(lock.key);
    },
    async lastFired(task: string): Promise<Date | undefined> {
      guard();
      checkKey('task', task);
      const ms = fired.get(task);
      return ms === undefined ? undefined : new Date(ms);
    },
    async recordFired(task: string, tick: Date): Promise<void> {
      guard();
      checkKey('task', task);
      checkTick(tick);
      const ms = tick.getTime();
      if ((fired.get(task) ?? -Infinity) < ms) fired.set(task, ms);
    },
    async healthCheck(): Promise<void> {
      guard();
    },
    async close(): Promise<void> {
      closed = true;
      locks.clear();
    },
  };
}
