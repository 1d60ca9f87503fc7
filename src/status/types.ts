/**
 * The job-status store's public types: the six states, one job's record, the snapshot and the
 * small store interface every backend (memory, Redis, NATS KV) implements.
 */

/**
 * Where a job is, as workers and producers report it (README, "Job status"):
 * - `pending`: enqueued (the bus accepted it), waiting to run;
 * - `processing`: an attempt started;
 * - `retrying`: will run again: its attempt failed (an attempt spent), or it was put off
 *   (`RetryLaterError`, a rate or concurrency limit; no attempt spent); `error` says why;
 * - `completed`: a handler succeeded and the job was acknowledged (final);
 * - `failed`: gave up (attempts exhausted or a permanent error) on a worker whose DLQ is
 *   disabled, so the job was dropped (final);
 * - `dead`: gave up and moved to the dead-letter queue (final).
 */
export type JobState = 'pending' | 'processing' | 'completed' | 'failed' | 'retrying' | 'dead';

/** The six {@link JobState}s, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = Object.freeze(['pending', 'processing', 'retrying', 'completed', 'failed', 'dead']);

/** The last known state of one job. */
export interface JobStatus {
  /** The job's id. */
  readonly jobId: string;
  /** Job name. */
  readonly name: string;
  /** Queue the job runs on. */
  readonly queue: string;
  /** Current state. */
  readonly state: JobState;
  /** Zero-based attempt the state is about (for `retrying` and the final states: the attempt that ended so). */
  readonly attempt: number;
  /** When the state was reported (the reporting process's clock). */
  readonly updatedAt: Date;
  /** When the job was created (enqueued). */
  readonly enqueuedAt?: Date;
  /** Short reason of a `retrying`, `failed` or `dead` state (at most 200 characters). */
  readonly error?: string;
  /**
   * When the job was last replayed from its DLQ (its `job_replayed_at` header): a replay starts
   * a new life, so a record of a later replay replaces any record of an earlier one, final too.
   */
  readonly replayedAt?: Date;
}

/** Counts of jobs per state (every state present, 0 when none). */
export type StateCounts = Record<JobState, number>;

/** Counts over the live (unexpired) records of a store. */
export interface StatusSnapshot {
  /** Records counted. */
  readonly total: number;
  /** By state. */
  readonly byState: StateCounts;
  /** By job name, then state. */
  readonly byName: Record<string, StateCounts>;
  /** By queue, then state. */
  readonly byQueue: Record<string, StateCounts>;
  /**
   * This process's status writes (set by `jobs.statusSnapshot()`, not by the stores): written,
   * failed (store down or slow) and dropped (the bounded write queue was full).
   */
  readonly writes?: StatusWriteCounts;
}

/** How a process's best-effort status writes went. */
export interface StatusWriteCounts {
  /** Writes the store answered (written, or refused as behind the stored record). */
  readonly recorded: number;
  /** Writes that failed or were not answered within the write timeout. */
  readonly failed: number;
  /** Updates never written because the bounded write queue was full. */
  readonly dropped: number;
}

/**
 * A pluggable job-status store: `createMemoryStatusStore`, `createRedisStatusStore`,
 * `createNatsKvStatusStore`. Records expire a TTL after their last accepted write. A write
 * never moves a record back (see {@link JobStatusStore.record}).
 */
export interface JobStatusStore {
  /**
   * Write `update` unless the stored record is ahead of it: a final record (completed, failed,
   * dead) is never replaced; a final update replaces any other; otherwise the higher attempt
   * wins; within one attempt `pending` yields to `processing` and `retrying`, and between
   * those two (or equal states) the later `updatedAt` wins. Resolves true when written.
   */
  record(update: JobStatus): Promise<boolean>;
  /** The live record of `jobId`, if any. */
  get(jobId: string): Promise<JobStatus | undefined>;
  /** Counts over every live record (cost: see the store's factory). */
  snapshot(): Promise<StatusSnapshot>;
  /** Release what the store opened itself (never a client you passed in). */
  close?(): Promise<void>;
}
