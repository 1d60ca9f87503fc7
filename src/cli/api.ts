/**
 * The operations of the face the commands use beyond enqueue, workers and stats: the DLQ
 * tooling (`jobs.dlq.list/replay/purge`), pause and resume (`jobs.pause/resume/paused`) and job
 * status (`jobs.status/statusSnapshot`). Each is checked for before use, so a jobbus without one
 * fails that command with a clear "not available" (exit 1) instead of a TypeError.
 */
import { NotInitializedError } from '../errors.js';
import type { Jobbus } from '../jobbus.js';
import type { DeadLetter } from '../jobs/types.js';

/** Which DLQ entries an operation selects; an empty filter selects all. */
export interface DLQFilter {
  readonly ids?: readonly string[];
  readonly names?: readonly string[];
  readonly reason?: string;
  readonly since?: Date;
  readonly until?: Date;
}

/** One DLQ entry as listed. */
export interface DLQEntry extends DeadLetter {
  readonly entryId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payloadPreview: string;
  readonly attempt: number;
}

/** Progress of a replay or purge. */
export interface DLQProgress {
  readonly done: number;
  readonly total: number;
}

/** The DLQ operations of the face. */
export interface DLQApi {
  list(queue: string, options?: DLQFilter & { readonly limit?: number; readonly cursor?: string }): Promise<{ readonly entries: readonly DLQEntry[]; readonly nextCursor?: string }>;
  replay(
    queue: string,
    selection: DLQFilter,
    options?: { readonly ratePerSecond?: number; readonly onProgress?: (p: DLQProgress) => void; readonly signal?: AbortSignal },
  ): Promise<{ readonly matched: number; readonly replayed: number; readonly alreadyReplayed: number; readonly replayedIds: readonly string[] }>;
  purge(queue: string, selection: DLQFilter, options?: { readonly onProgress?: (p: DLQProgress) => void }): Promise<{ readonly matched: number; readonly purged: number }>;
}

/** A paused queue of a group. */
export interface PausedQueue {
  readonly queue: string;
  readonly group: string;
  readonly pausedAt: Date;
}

/** Pause and resume of the face. */
export interface PauseApi {
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  paused(): Promise<readonly PausedQueue[]>;
}

/** A job's status record. */
export interface JobStatusRecord {
  readonly jobId: string;
  readonly name: string;
  readonly queue: string;
  readonly state: string;
  readonly attempt: number;
  readonly updatedAt: Date | string | number;
  readonly enqueuedAt?: Date | string | number;
  readonly error?: string;
}

/** Counts over the live status records. */
export interface StatusSnapshot {
  readonly total: number;
  readonly byState: Readonly<Record<string, number>>;
  readonly byName: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly byQueue: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** Job status of the face. */
export interface StatusApi {
  status(jobId: string): Promise<JobStatusRecord | undefined>;
  statusSnapshot(): Promise<StatusSnapshot>;
}

function hasMethods(target: unknown, methods: readonly string[]): boolean {
  return typeof target === 'object' && target !== null && methods.every((m) => typeof (target as Record<string, unknown>)[m] === 'function');
}

function missing(what: string): NotInitializedError {
  return new NotInitializedError(`${what} is not available in this version of jobbus`);
}

/** The DLQ operations, or a NotInitializedError. */
export function dlqApi(jobs: Jobbus): DLQApi {
  if (!hasMethods(jobs.dlq, ['list', 'replay', 'purge'])) throw missing('DLQ list/replay/purge (jobs.dlq.list)');
  return jobs.dlq as unknown as DLQApi;
}

/** Pause and resume, or a NotInitializedError. */
export function pauseApi(jobs: Jobbus): PauseApi {
  if (!hasMethods(jobs, ['pause', 'resume', 'paused'])) throw missing('pausing queues (jobs.pause)');
  return jobs as unknown as PauseApi;
}

/** Job status, or a NotInitializedError. */
export function statusApi(jobs: Jobbus): StatusApi {
  if (!hasMethods(jobs, ['status', 'statusSnapshot'])) throw missing('job status (jobs.status)');
  return jobs as unknown as StatusApi;
}
