/**
 * What every status store shares: the rule that keeps a record from moving back, the stored
 * (JSON) form of a record, argument checks and the snapshot tally.
 */
import { InvalidArgumentError } from '../errors.js';
import { JOB_STATES, type JobState, type JobStatus, type StateCounts, type StatusSnapshot } from './types.js';

/** Default life of a record after its last accepted write: a day, ms. */
export const DEFAULT_TTL_MS = 86_400_000;

/** Rank of a state within one attempt; 2 = final. The Redis script mirrors this table. */
export const STATE_RANK: Readonly<Record<JobState, number>> = Object.freeze({
  pending: 0,
  processing: 1,
  retrying: 1,
  completed: 2,
  failed: 2,
  dead: 2,
});

/** True when `next` may replace `current` (the rule of {@link JobStatusStore.record}). */
export function supersedes(next: JobStatus, current: JobStatus | undefined): boolean {
  if (!current) return true;
  // A replay from the DLQ is a new life of the job: its records win over those of earlier lives.
  const nextLife = next.replayedAt?.getTime() ?? 0;
  const currentLife = current.replayedAt?.getTime() ?? 0;
  if (nextLife !== currentLife) return nextLife > currentLife;
  const was = STATE_RANK[current.state] ?? 0;
  const is = STATE_RANK[next.state];
  if (was === 2) return false;
  if (is === 2) return true;
  if (next.attempt !== current.attempt) return next.attempt > current.attempt;
  if (is !== was) return is > was;
  return next.updatedAt.getTime() >= current.updatedAt.getTime();
}

/** The stored form: times as epoch milliseconds. */
interface StoredStatus {
  jobId: string;
  name: string;
  queue: string;
  state: JobState;
  attempt: number;
  updatedAt: number;
  enqueuedAt?: number;
  error?: string;
  replayedAt?: number;
}

/** JSON of a record (the value in Redis and NATS KV). */
export function encodeStatus(s: JobStatus): string {
  const stored: StoredStatus = {
    jobId: s.jobId,
    name: s.name,
    queue: s.queue,
    state: s.state,
    attempt: s.attempt,
    updatedAt: s.updatedAt.getTime(),
    ...(s.enqueuedAt && { enqueuedAt: s.enqueuedAt.getTime() }),
    ...(s.error !== undefined && { error: s.error }),
    ...(s.replayedAt && { replayedAt: s.replayedAt.getTime() }),
  };
  return JSON.stringify(stored);
}

/** A record from its JSON; undefined for anything that is not one (a foreign key under the prefix). */
export function decodeStatus(text: string): JobStatus | undefined {
  let v: Partial<StoredStatus>;
  try {
    v = JSON.parse(text) as Partial<StoredStatus>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof v.jobId !== 'string' || typeof v.name !== 'string' || typeof v.queue !== 'string') return undefined;
  if (!JOB_STATES.includes(v.state as JobState) || typeof v.attempt !== 'number' || typeof v.updatedAt !== 'number') return undefined;
  return {
    jobId: v.jobId,
    name: v.name,
    queue: v.queue,
    state: v.state as JobState,
    attempt: v.attempt,
    updatedAt: new Date(v.updatedAt),
    ...(typeof v.enqueuedAt === 'number' && { enqueuedAt: new Date(v.enqueuedAt) }),
    ...(typeof v.error === 'string' && { error: v.error }),
    ...(typeof v.replayedAt === 'number' && { replayedAt: new Date(v.replayedAt) }),
  };
}

/** Throws an `InvalidArgumentError` unless `u` is a well-formed record. */
export function checkUpdate(u: JobStatus): void {
  checkJobId(u?.jobId);
  if (typeof u.name !== 'string' || typeof u.queue !== 'string') throw new InvalidArgumentError('a status update needs a name and a queue');
  if (!JOB_STATES.includes(u.state)) throw new InvalidArgumentError(`unknown job state "${String(u.state)}"`);
  if (!Number.isSafeInteger(u.attempt) || u.attempt < 0) throw new InvalidArgumentError('attempt must be a whole number >= 0');
  if (!(u.updatedAt instanceof Date) || Number.isNaN(u.updatedAt.getTime())) throw new InvalidArgumentError('updatedAt must be a valid Date');
  if (u.replayedAt !== undefined && (!(u.replayedAt instanceof Date) || Number.isNaN(u.replayedAt.getTime()))) {
    throw new InvalidArgumentError('replayedAt must be a valid Date when given');
  }
}

/** Throws an `InvalidArgumentError` unless `jobId` is a non-empty string of at most 512 characters. */
export function checkJobId(jobId: unknown): void {
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > 512) {
    throw new InvalidArgumentError('jobId must be a non-empty string of at most 512 characters');
  }
}

/** Throws an `InvalidArgumentError` unless `ttlMs` is a positive whole number of milliseconds. */
export function checkTtl(ttlMs: unknown): void {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new InvalidArgumentError(`ttlMs must be a positive whole number of milliseconds, got ${String(ttlMs)}`);
  }
}

function zeroCounts(): StateCounts {
  return { pending: 0, processing: 0, retrying: 0, completed: 0, failed: 0, dead: 0 };
}

/** Counts records by state, name and queue as they are added. */
export function createTally(): { add(s: JobStatus): void; result(): StatusSnapshot } {
  let total = 0;
  const byState = zeroCounts();
  const byName: Record<string, StateCounts> = Object.create(null) as Record<string, StateCounts>;
  const byQueue: Record<string, StateCounts> = Object.create(null) as Record<string, StateCounts>;
  return {
    add(s) {
      total++;
      byState[s.state]++;
      (byName[s.name] ??= zeroCounts())[s.state]++;
      (byQueue[s.queue] ??= zeroCounts())[s.state]++;
    },
    result: () => ({ total, byState, byName: { ...byName }, byQueue: { ...byQueue } }),
  };
}
