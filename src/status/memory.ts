/** The in-process job-status store. */
import { InvalidArgumentError } from '../errors.js';
import { checkJobId, checkTtl, DEFAULT_TTL_MS, checkUpdate, createTally, supersedes } from './record.js';
import type { JobStatus, JobStatusStore } from './types.js';

/** Options of {@link createMemoryStatusStore}. */
export interface MemoryStatusStoreOptions {
  /** How long a record lives after its last accepted write, ms. Default 86 400 000 (a day). */
  readonly ttlMs?: number;
  /** Most records kept; past it the least recently written is dropped. Default 100 000. */
  readonly maxEntries?: number;
  /** Clock, ms since the epoch (for tests). Default `Date.now`. */
  readonly now?: () => number;
}

interface Entry {
  readonly status: JobStatus;
  readonly expiresAt: number;
}

/**
 * Records in a Map of this process (other processes do not see them). Expiry is lazy: an
 * expired record is skipped by `get` and `snapshot` and removed by them or by the next
 * writes (the oldest first), so there is no timer. `snapshot` is O(records).
 */
export function createMemoryStatusStore(options: MemoryStatusStoreOptions = {}): JobStatusStore {
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  checkTtl(ttlMs);
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new InvalidArgumentError('maxEntries must be a whole number >= 1');
  // Insertion order = last-write order (a write re-inserts), so the oldest are first.
  const entries = new Map<string, Entry>();

  const live = (jobId: string, at: number): Entry | undefined => {
    const e = entries.get(jobId);
    if (e && e.expiresAt <= at) {
      entries.delete(jobId);
      return undefined;
    }
    return e;
  };
  const sweep = (at: number): void => {
    for (const [id, e] of entries) {
      if (e.expiresAt > at && entries.size <= maxEntries) return;
      entries.delete(id);
    }
  };

  return {
    async record(update) {
      checkUpdate(update);
      const at = now();
      if (!supersedes(update, live(update.jobId, at)?.status)) return false;
      entries.delete(update.jobId);
      entries.set(update.jobId, { status: update, expiresAt: at + ttlMs });
      sweep(at);
      return true;
    },
    async get(jobId) {
      checkJobId(jobId);
      return live(jobId, now())?.status;
    },
    async snapshot() {
      const at = now();
      sweep(at);
      const tally = createTally();
      for (const e of entries.values()) if (e.expiresAt > at) tally.add(e.status);
      return tally.result();
    },
    async close() {
      entries.clear();
    },
  };
}
