/**
 * Where the job-status store attaches to a jobbus instance: its enqueue path (`pending` once
 * the bus accepted a job) and its workers' hooks (the other states). When `createJobbus` got no
 * store nothing is wrapped or hooked (no cost).
 *
 * Worker outcome -> state: started -> `processing`; completed -> `completed`; retried (an
 * attempt spent) -> `retrying`; rescheduled (put off, no attempt spent) -> `retrying`;
 * dead -> `dead` when the worker's DLQ is enabled, `failed` when it is disabled (dropped).
 * A job released because its worker is closing keeps `processing` until it runs again.
 */
import type { Logger } from 'pino';
import { NotInitializedError } from '../errors.js';
import { REPLAYED_AT_HEADER } from '../headers/names.js';
import type { Job, Runtime } from '../jobs/types.js';
import type { Worker } from '../worker/types.js';
import { createStatusRecorder, type StatusRecorder } from './recorder.js';
import type { JobState, JobStatus, JobStatusStore, StatusSnapshot } from './types.js';

type Target = Pick<Runtime, 'enqueue' | 'enqueueBatch'>;

/** A store plus this process's write queue. */
export interface StatusObserver {
  /** The store given to `createJobbus`. */
  readonly store: JobStatusStore;
  /** The best-effort write queue in front of it. */
  readonly recorder: StatusRecorder;
}

/** The observer of `store` (undefined when no store was given). */
export function createStatusObserver(store: JobStatusStore | undefined, logger: Logger): StatusObserver | undefined {
  return store ? { store, recorder: createStatusRecorder(store, { logger }) } : undefined;
}

const MAX_ERROR = 200;

function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : String(error);
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR - 1)}…` : text;
}

/** When the job was replayed from its DLQ (its header; a malformed one counts as none). */
function replayedAtOf(job: Job): Date | undefined {
  const raw = job.headers[REPLAYED_AT_HEADER];
  const at = raw === undefined ? NaN : Date.parse(raw);
  return Number.isNaN(at) ? undefined : new Date(at);
}

function update(job: Job, state: JobState, error?: unknown): JobStatus {
  const replayedAt = replayedAtOf(job);
  return {
    jobId: job.id,
    name: job.name,
    queue: job.queue,
    state,
    attempt: job.attempt,
    updatedAt: new Date(),
    enqueuedAt: job.createdAt,
    ...(error !== undefined && { error: reasonOf(error) }),
    ...(replayedAt && { replayedAt }),
  };
}

/** `target`, itself when there is no store; else jobs are recorded `pending` once the bus accepted them. */
export function observeStatusEnqueue(target: Target, observer: StatusObserver | undefined): Target {
  if (!observer) return target;
  const pending = (jobs: readonly Job[]): void => {
    for (const job of jobs) observer.recorder.push(update(job, 'pending'));
  };
  return {
    enqueue: async (job) => {
      await target.enqueue(job);
      pending([job]);
    },
    enqueueBatch: async (jobs) => {
      await target.enqueueBatch(jobs);
      pending(jobs);
    },
  };
}

/** Report `worker`'s jobs to the store (synchronous hooks: a write is only queued). Nothing when there is no store. */
export function observeStatusWorker(worker: Worker, observer: StatusObserver | undefined): void {
  if (!observer) return;
  const push = (job: Job, state: JobState, error?: unknown): void => observer.recorder.push(update(job, state, error));
  worker.addHooks({
    onStarted: (job) => push(job, 'processing'),
    onCompleted: (job) => push(job, 'completed'),
    onRetry: (job, { error }) => push(job, 'retrying', error),
    onRescheduled: (job, { reason }) => push(job, 'retrying', reason),
    onDead: (job, { reason }) => push(job, worker.config.dlq.enabled ? 'dead' : 'failed', reason),
  });
}

/** What the face offers: `status(jobId)` and `statusSnapshot()`; both reject with a `NotInitializedError` without a store. */
export function statusQueries(
  observer: StatusObserver | undefined,
  assertOpen: () => void,
): { status(jobId: string): Promise<JobStatus | undefined>; statusSnapshot(): Promise<StatusSnapshot> } {
  const store = async (): Promise<StatusObserver> => {
    assertOpen();
    if (!observer) throw new NotInitializedError('job status is off: pass status (e.g. createMemoryStatusStore({ ttlMs })) to createJobbus');
    return observer;
  };
  return {
    status: async (jobId) => (await store()).store.get(jobId),
    statusSnapshot: async () => {
      const o = await store();
      return { ...(await o.store.snapshot()), writes: o.recorder.counters() };
    },
  };
}
