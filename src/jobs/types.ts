/**
 * The jobs contract shared by every layer: what a job is, and the interfaces of the
 * runtime (push), the backend (leases) and the dead-letter store, with the optional
 * capabilities a layer may check for (dead-lettering, prefetching).
 */

/** String-valued message headers. */
export type Headers = Record<string, string>;

/** Why and when the previous attempt of a job failed (or, in a DLQ, why it was dead-lettered). */
export interface JobFailure {
  /** The failure reason (the wire format keeps at most 1 KiB of it). */
  readonly reason: string;
  /** When the attempt failed. */
  readonly failedAt: Date;
}

/** A unit of background work as it travels on the bus. */
export interface Job {
  /** Unique id (UUIDv7 by default); duplicates after a crash carry the same id. */
  readonly id: string;
  /** Job name; selects the handler. */
  readonly name: string;
  /** Queue (topic / stream) the job is published to. */
  readonly queue: string;
  /** Opaque payload bytes; never empty. */
  readonly payload: Uint8Array;
  /** User headers (reserved `job_*` headers are not in here). */
  readonly headers: Headers;
  /** MIME type of the payload, e.g. `application/json`. */
  readonly contentType?: string;
  /** Tenant the job belongs to. */
  readonly tenantId?: string;
  /** Correlation id carried through logs and follow-up jobs. */
  readonly correlationId?: string;
  /** Key with which handlers or stores can deduplicate. */
  readonly idempotencyKey?: string;
  /** Transport key: ordering and partitioning follow it. */
  readonly partitionKey?: string;
  /** Not delivered before this instant. */
  readonly runAt: Date;
  /** Zero-based attempt number of this delivery. */
  readonly attempt: number;
  /** Maximum number of attempts (attempt 0 .. maxAttempts-1); 0 means the worker's `retry.maxAttempts` decides. */
  readonly maxAttempts: number;
  /** When the job was first created. */
  readonly createdAt: Date;
  /**
   * Set on a retry or reschedule copy (and a dead letter): why its last attempt failed. The
   * codec carries it in the reserved `job_failure_reason` / `job_failed_at` headers.
   */
  readonly failure?: JobFailure;
}

/** A job held exclusively by one worker until `expiresAt`, reserved through a {@link Backend}. */
export interface Lease {
  /** Opaque token identifying this reservation (not the job id: a redelivered job gets a new lease). */
  readonly token: string;
  /** The reserved job. */
  readonly job: Job;
  /** The queue it was reserved from. */
  readonly queue: string;
  /** When the lease lapses and the job becomes deliverable again. */
  readonly expiresAt: Date;
  /** How many times the transport has delivered this message (1 on first delivery). */
  readonly deliveryCount: number;
}

/** What a {@link Runtime} subscription handler receives beside the job. */
export interface DeliveryContext {
  /** How many times the transport has delivered this message (1 on first delivery). */
  readonly deliveryCount: number;
  /** Tell the transport the job is still being worked on (NATS `working()`, Kafka keep-alive). */
  working(): void;
  /** Aborted when the transport took the delivery back (partition revoked, subscription closed). */
  readonly signal?: AbortSignal;
}

/**
 * Push handler for {@link Runtime.subscribe}: resolve to acknowledge, reject to have the job
 * redelivered; reject with a `RedeliverJob` (jobs/outcome.ts) to choose the delay, with a
 * `JobSettledElsewhere` to never have it delivered again.
 */
export type RuntimeHandler = (job: Job, context: DeliveryContext) => Promise<void>;

/** Options of {@link Runtime.subscribe}. */
export interface RuntimeSubscribeOptions {
  /** Consumer group; competing consumers share a group. Default: `jobbus`. */
  readonly group?: string;
  /** Most deliveries held (unsettled) at once by this subscription. */
  readonly maxInFlight?: number;
  /** How long the transport waits for a settle before presuming the consumer dead, ms. */
  readonly ackTimeoutMs?: number;
  /** `key` (default): jobs with equal partition keys never run at once, in order; `partition`; `none`. */
  readonly ordering?: 'key' | 'partition' | 'none';
}

/** The jobs runtime: enqueue jobs and push them to handlers. */
export interface Runtime {
  /** Publish a job; resolves once the bus has durably accepted it. */
  enqueue(job: Job): Promise<void>;
  /** Publish several jobs in one batch; all or an error. */
  enqueueBatch(jobs: readonly Job[]): Promise<void>;
  /** Deliver the queue's jobs to `handler` until {@link Runtime.unsubscribe}. */
  subscribe(queue: string, handler: RuntimeHandler, options?: RuntimeSubscribeOptions): Promise<void>;
  /** Stop delivering the queue's jobs; held ones are released for redelivery. */
  unsubscribe(queue: string): Promise<void>;
  /** Throws when the bus cannot be used. */
  healthCheck(): Promise<void>;
  /** Release everything; the runtime cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * What a lease layer needs of a runtime beyond {@link Runtime} to settle a job by publishing:
 * its retry copy, or its dead letter.
 */
export interface DeadLettering {
  /**
   * Publish a copy of a job that replaces the delivered message about to be settled (a retry,
   * a reschedule): never deduplicated against anything, and an answer "duplicate, not stored"
   * is an error. Delayed until `runAt` when that is in the future.
   */
  publishCopy(job: Job): Promise<void>;
  /**
   * Publish the dead-letter copy of `job` with `reason` to its queue's DLQ. When the broker
   * refuses it for good (too large, say), a copy with a minimal reason is tried before the
   * error is thrown.
   */
  deadLetter(job: Job, reason: string): Promise<void>;
  /** What could not be dead-lettered so far; a non-zero value deserves an alert. */
  counters(): DeadLetteringCounters;
}

/** Counters of {@link DeadLettering}. */
export interface DeadLetteringCounters {
  /** Dead-letter publishes (of jobs or poison messages) the broker refused even as a minimal copy. */
  readonly deadLetterRefused: number;
}

/** Options of {@link Backend.reserve}. */
export interface ReserveOptions {
  /** How long to wait for a job before resolving `undefined`, ms. */
  readonly timeoutMs?: number;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

/** Options of {@link Backend.nack}. */
export interface NackOptions {
  /** Count this failure as a spent attempt (default true); false for "retry later". */
  readonly countAttempt?: boolean;
}

/** Lease-based job storage: what a worker needs to pull, hold and settle jobs. */
export interface Backend {
  /** Publish a job. */
  enqueue(job: Job): Promise<void>;
  /** Publish several jobs in one batch. */
  enqueueBatch(jobs: readonly Job[]): Promise<void>;
  /**
   * Take the next due job of `queue` for `leaseForMs`, or `undefined` after the reserve
   * timeout. Given several queues, the first queue in the list that has a job wins.
   */
  reserve(queue: string | readonly string[], leaseForMs: number, options?: ReserveOptions): Promise<Lease | undefined>;
  /** The job is done. Throws {@link LeaseExpiredError} when the lease is gone. */
  ack(lease: Lease): Promise<void>;
  /** The attempt failed: schedule the retry copy at `nextRunAt`, then settle the original. */
  nack(lease: Lease, nextRunAt: Date, reason: string, options?: NackOptions): Promise<void>;
  /** Extend the lease by `leaseForMs` from now. */
  renew(lease: Lease, leaseForMs: number): Promise<Lease>;
  /** Publish the job to the queue's dead-letter queue with `reason`, then settle the original. */
  moveToDLQ(lease: Lease, reason: string): Promise<void>;
  /** Hand a reserved job back unsettled, for immediate redelivery (used on shutdown). */
  release(lease: Lease): Promise<void>;
  /** Throws when the backend cannot be used. */
  healthCheck(): Promise<void>;
  /** Stop, release outstanding leases for redelivery, close the bus if owned. */
  close(): Promise<void>;
}

/**
 * A backend that fetches jobs ahead of reserve calls (a push subscription buffers them): a
 * worker asks how many wait, to be fair among queues, and hands them back when it stops.
 */
export interface PrefetchingBackend extends Backend {
  /** Jobs received and waiting for a reserve call, per queue. */
  bufferedCount(queue: string): number;
  /**
   * Stop fetching `queues` and hand their prefetched (not reserved) jobs back for other
   * consumers. A queue that still has leases is left as it is (another worker uses it). A
   * later reserve fetches again. Returns the queues detached.
   */
  detach(queues: readonly string[]): Promise<string[]>;
  /**
   * A job already received for one of `queues` (the first queue in the list that has one),
   * leased at once for `leaseForMs`; `undefined` when none is, or when a reserve would have to
   * wait for anything (a start gate, a subscription, pauses). What {@link Backend.reserve}
   * returns without waiting, without its promises: the worker tries this first. Optional.
   */
  reserveReady?(queues: readonly string[], leaseForMs: number): Lease | undefined;
  /**
   * {@link Backend.ack} done synchronously: throws {@link LeaseExpiredError} when the lease is
   * gone. For a backend whose ack needs no I/O (the runtime backend settles the held delivery),
   * so the worker's ack costs no promise and no await. Optional.
   */
  ackNow?(lease: Lease): void;
}

/** True when the backend implements {@link PrefetchingBackend}. */
export function isPrefetching(backend: Backend): backend is PrefetchingBackend {
  const candidate = backend as Partial<PrefetchingBackend>;
  return typeof candidate.bufferedCount === 'function' && typeof candidate.detach === 'function';
}

/** One entry of a dead-letter queue. */
export interface DeadLetter {
  /** The job as it failed (its `failure` carries the reason and time too). */
  readonly job: Job;
  /** Queue the job was dead-lettered from. */
  readonly originalQueue: string;
  /** Why it failed. */
  readonly reason: string;
  /** When it was dead-lettered. */
  readonly failedAt: Date;
}

/** Which DLQ entries an operation applies to; every given criterion must hold (none given: all). */
export interface DLQFilter {
  /** Entry ids ({@link DLQEntry.entryId}) or job ids; an empty list matches nothing. */
  readonly ids?: readonly string[];
  /** Job names. */
  readonly names?: readonly string[];
  /** Case-insensitive substring of the failure reason. */
  readonly reason?: string;
  /** Failed at or after (inclusive). */
  readonly since?: Date;
  /** Failed at or before (inclusive). */
  readonly until?: Date;
}

/** Options of {@link DLQStore.list}. */
export interface DLQListOptions extends DLQFilter {
  /** Most entries of a page. Default 50. */
  readonly limit?: number;
  /** Continue after the page that returned it as {@link DLQPage.nextCursor}. */
  readonly cursor?: string;
}

/** One DLQ entry as listed. */
export interface DLQEntry extends DeadLetter {
  /** Stable identity of this entry (a hash of its content): the same across listings and buses' rewrites. */
  readonly entryId: string;
  /** Every header of the dead-letter message. */
  readonly headers: Readonly<Record<string, string>>;
  /** The first ~200 characters of the payload as UTF-8, or `base64:` and its first bytes when it is not text. */
  readonly payloadPreview: string;
  /** The attempt the job was dead-lettered on (0 = first). */
  readonly attempt: number;
}

/** A page of {@link DLQStore.list}, newest first. */
export interface DLQPage {
  /** The entries, newest first. */
  readonly entries: readonly DLQEntry[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** Progress of a replay or purge. */
export interface DLQProgress {
  /** Entries done so far. */
  readonly done: number;
  /** Entries to do. */
  readonly total: number;
}

/** Options of {@link DLQStore.replay}. */
export interface DLQReplayOptions {
  /** Most copies published per second. Default: unlimited. */
  readonly ratePerSecond?: number;
  /** Called as entries are replayed. */
  readonly onProgress?: (p: DLQProgress) => void;
  /** Stops publishing; what was replayed is still removed from the DLQ, then the call rejects. */
  readonly signal?: AbortSignal;
}

/** What {@link DLQStore.replay} did. */
export interface DLQReplayReport {
  /** Entries the selection matched. */
  readonly matched: number;
  /** Entries this call published back to their queue. */
  readonly replayed: number;
  /** Matched entries found already published by an earlier, interrupted replay (not published again). */
  readonly alreadyReplayed: number;
  /** Entry ids this call published. */
  readonly replayedIds: readonly string[];
}

/** What {@link DLQStore.purge} did. */
export interface DLQPurgeReport {
  /** Entries the selection matched. */
  readonly matched: number;
  /** Entries removed. */
  readonly purged: number;
}

/** Read and redrive dead-letter queues. */
export interface DLQStore {
  /** Newest-first entries of the queue's DLQ, at most `limit`. */
  listDLQ(queue: string, limit: number): Promise<DeadLetter[]>;
  /** Publish the given entries (by job id) back to their original queue with the attempt reset; returns how many. */
  replayDLQ(queue: string, ids: readonly string[]): Promise<number>;
  /** Remove entries (all when `ids` is omitted); returns how many. */
  purgeDLQ(queue: string, ids?: readonly string[]): Promise<number>;
  /** A page of the queue's DLQ entries matching `options`, newest first. */
  list(queue: string, options?: DLQListOptions): Promise<DLQPage>;
  /** Publish the entries matching `selection` back to their original queue, oldest first, crash-safe (see the README). */
  replay(queue: string, selection: DLQFilter, options?: DLQReplayOptions): Promise<DLQReplayReport>;
  /** Remove the entries matching `selection` (an empty filter: all). */
  purge(queue: string, selection: DLQFilter, options?: { onProgress?(p: DLQProgress): void }): Promise<DLQPurgeReport>;
}
