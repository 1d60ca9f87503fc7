/**
 * Pieces every lock provider shares: argument checks, tokens, the closed guard and the
 * loading of optional client packages.
 */
import { randomBytes } from 'node:crypto';
import { ClosedError, ConflictError, InvalidArgumentError, NotInitializedError } from '../../errors.js';

/** A fresh random lock token (128 bits, hex). */
export function newToken(): string {
  return randomBytes(16).toString('hex');
}

/** Throws an `InvalidArgumentError` unless `key` is a non-empty string of at most 512 characters. */
export function checkKey(what: string, key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 512) {
    throw new InvalidArgumentError(`${what} must be a non-empty string of at most 512 characters`);
  }
}

/** Throws an `InvalidArgumentError` unless `ttlMs` is a positive whole number of milliseconds. */
export function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new InvalidArgumentError(`ttlMs must be a positive whole number of milliseconds, got ${String(ttlMs)}`);
  }
}

/** Throws an `InvalidArgumentError` unless `tick` is a valid date. */
export function checkTick(tick: Date): void {
  if (!(tick instanceof Date) || Number.isNaN(tick.getTime())) {
    throw new InvalidArgumentError('tick must be a valid Date');
  }
}

/** The error renew throws when the lock is no longer ours. */
export function lostLock(key: string, cause?: unknown): ConflictError {
  return new ConflictError(`lock "${key}" was lost (expired, taken or released)`, { cause });
}

/** The error every call after `close()` throws. */
export function closedError(provider: string): ClosedError {
  return new ClosedError(`${provider} lock provider is closed`);
}

/**
 * Loads an optional peer package; a missing one is a `NotInitializedError` saying what to
 * install. `load` is a literal `import('pkg')` at the call site so bundlers can see it.
 */
export async function loadPeer<T>(pkg: string, provider: string, load: () => Promise<T>, kind = 'lock provider'): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new NotInitializedError(`the ${provider} ${kind} needs the "${pkg}" package: npm install ${pkg}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Runs `op` with a deadline; past it the promise rejects with what `onTimeout` returns.
 * Health checks use it so a dead address fails within seconds, not after a client's retries.
 */
export async function withDeadline<T>(op: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([op, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
