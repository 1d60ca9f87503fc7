/**
 * One error hierarchy for everything jobbus throws. Every error carries a stable
 * `code` (safe to match on in scripts and metrics) and a `retryable` flag saying
 * whether trying the same operation again later may succeed. `cause` is kept.
 */

/** Stable error codes. Never renamed once published. */
export type ErrorCode =
  | 'VALIDATION'
  | 'DECODE'
  | 'SCHEMA'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'LEASE_EXPIRED'
  | 'RETRYABLE'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'INVALID_ARGUMENT'
  | 'NOT_INITIALIZED'
  | 'CLOSED'
  | 'PERMANENT'
  | 'RETRY_LATER'
  | 'NO_HANDLER'
  | 'PUBLISH_REJECTED'
  | 'AUTH_FAILED';

/** Options shared by every jobbus error constructor. */
export interface JobbusErrorOptions {
  /** The underlying error, kept for diagnostics. */
  cause?: unknown;
}

/** Base class of every error jobbus throws. */
export class JobbusError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;
  /** True when the same operation may succeed if tried again later. */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable: boolean, options: JobbusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/** Input (a job, a config, a payload) broke a rule; `field` names what was wrong. */
export class ValidationError extends JobbusError {
  /** Dotted path of the offending field, e.g. `retry.maxAttempts` or `payload`. */
  readonly field: string;
  /** Individual problems when several were found (e.g. zod issues). */
  readonly issues: readonly { path: string; message: string }[];

  constructor(
    field: string,
    message: string,
    options: JobbusErrorOptions & { issues?: readonly { path: string; message: string }[]; code?: 'VALIDATION' | 'DECODE' | 'SCHEMA' } = {},
  ) {
    super(options.code ?? 'VALIDATION', `${field}: ${message}`, false, options);
    this.field = field;
    this.issues = options.issues ?? [{ path: field, message }];
  }
}

/** A transport message could not be turned into a job; `header` names the culprit. */
export class DecodeError extends ValidationError {
  /** The header (or `value`) that could not be decoded. */
  readonly header: string;

  constructor(header: string, message: string, options: JobbusErrorOptions = {}) {
    super(header, message, { ...options, code: 'DECODE' });
    this.header = header;
  }
}

/**
 * A job payload does not match its schema (zod definition or registry schema). On enqueue
 * nothing is published; on consume the job goes to the DLQ with reason `schema: …`.
 */
export class SchemaError extends ValidationError {
  /** Job name whose schema was violated (empty when the registry client alone raised it). */
  readonly jobName: string;
  /** The schema registry subject, when the schema came from a registry. */
  readonly subject: string | undefined;
  /** The registry schema id involved, when known. */
  readonly schemaId: number | undefined;

  constructor(
    jobName: string,
    issues: readonly { path: string; message: string }[],
    options: JobbusErrorOptions & { subject?: string; schemaId?: number } = {},
  ) {
    const detail = issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
    const first = issues[0]?.path ? `payload.${issues[0].path}` : 'payload';
    const what = jobName ? `payload of "${jobName}"` : 'payload';
    const where = options.subject ? ` (registry subject "${options.subject}")` : options.schemaId ? ` (registry schema id ${options.schemaId})` : '';
    super(first, `${what} does not match its schema${where} (${detail})`, { ...options, issues, code: 'SCHEMA' });
    this.jobName = jobName;
    this.subject = options.subject;
    this.schemaId = options.schemaId;
  }
}

/** The operation conflicts with existing state (e.g. a lock held by someone else). */
export class ConflictError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super('CONFLICT', message, false, options);
  }
}

/** The thing asked for does not exist (any more). */
export class NotFoundError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions & { code?: 'NOT_FOUND' | 'LEASE_EXPIRED' } = {}) {
    super(options.code ?? 'NOT_FOUND', message, false, options);
  }
}

/** A lease was settled after it expired or after it was released; the job was or will be redelivered. */
export class LeaseExpiredError extends NotFoundError {
  /** Id of the job whose lease is gone. */
  readonly jobId: string;

  constructor(jobId: string, message: string) {
    super(message, { code: 'LEASE_EXPIRED' });
    this.jobId = jobId;
  }
}

/** A transient failure: trying again later may succeed. */
export class RetryableError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions & { code?: 'RETRYABLE' | 'UNAVAILABLE' | 'TIMEOUT' } = {}) {
    super(options.code ?? 'RETRYABLE', message, true, options);
  }
}

/** A broker or service could not be reached or refused the operation for now. */
export class UnavailableError extends RetryableError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super(message, { ...options, code: 'UNAVAILABLE' });
  }
}

/** An operation or a handler attempt took longer than allowed. */
export class TimeoutError extends RetryableError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super(message, { ...options, code: 'TIMEOUT' });
  }
}

/** An argument to a jobbus call is unusable (wrong type, out of range). */
export class InvalidArgumentError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super('INVALID_ARGUMENT', message, false, options);
  }
}

/** A component was used before it was started. */
export class NotInitializedError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super('NOT_INITIALIZED', message, false, options);
  }
}

/** A component was used after close(). */
export class ClosedError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super('CLOSED', message, false, options);
  }
}

/** Thrown by a handler: do not retry, move the job to the dead-letter queue now. */
export class PermanentError extends JobbusError {
  constructor(message: string, options: JobbusErrorOptions = {}) {
    super('PERMANENT', message, false, options);
  }
}

/**
 * Thrown by a handler: the job is not ready (a dependency is missing, a rate limit
 * applies); run it again after `delayMs` without spending an attempt.
 */
export class RetryLaterError extends JobbusError {
  /** How long to wait before the next delivery, in milliseconds. */
  readonly delayMs: number;

  constructor(delayMs: number, message = `retry later in ${delayMs} ms`, options: JobbusErrorOptions = {}) {
    super('RETRY_LATER', message, true, options);
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new InvalidArgumentError(`RetryLaterError delayMs must be a finite number >= 0, got ${delayMs}`);
    }
    this.delayMs = delayMs;
  }
}

/** A job arrived for which the worker has no registered handler. */
export class NoHandlerError extends JobbusError {
  constructor(jobName: string) {
    super('NO_HANDLER', `no handler registered for job name "${jobName}"`, false);
  }
}

/**
 * The broker refused a publish for good: the message is too large, a header or time cannot
 * be encoded, the topic does not exist or may not be written, a stream refuses new messages.
 * Sending the same message again will fail the same way (`retryable: false`). Transient
 * failures (broker unreachable, leader moving, timeouts) are {@link UnavailableError}s instead.
 */
export class PublishRejectedError extends JobbusError {
  /** The topic the publish was for. */
  readonly topic: string;

  constructor(topic: string, message: string, options: JobbusErrorOptions = {}) {
    super('PUBLISH_REJECTED', `publish to "${topic}" rejected: ${message}`, false, options);
    this.topic = topic;
  }
}

/**
 * The broker refused the connection's credentials or identity: a wrong SASL or NATS password,
 * an unknown user or mechanism, a certificate the client does not trust. Waiting does not fix
 * it (`retryable: false`); the message names the broker, the user (never the password) and
 * the option to check.
 */
export class AuthenticationError extends JobbusError {
  /** The broker that refused: `kafka`, `nats`, or the schema `registry`. */
  readonly broker: 'kafka' | 'nats' | 'registry';

  constructor(broker: 'kafka' | 'nats' | 'registry', message: string, options: JobbusErrorOptions = {}) {
    super('AUTH_FAILED', message, false, options);
    this.broker = broker;
  }
}

/**
 * True when publishing the same message again cannot succeed: the broker refused it for good
 * ({@link PublishRejectedError}), or it cannot even be encoded (a {@link ValidationError}).
 */
export function isRefusedForGood(err: unknown): boolean {
  return err instanceof PublishRejectedError || err instanceof ValidationError;
}

/** True when `err` is a jobbus error (of any subclass). */
export function isJobbusError(err: unknown): err is JobbusError {
  return err instanceof JobbusError;
}

/** A short, single-line description of anything thrown, for failure-reason headers and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = err instanceof JobbusError ? ` [${err.code}]` : '';
    return `${err.name}${code}: ${err.message}`.replace(/\s+/g, ' ').slice(0, 1024);
  }
  let text: string;
  try {
    text = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    text = String(err);
  }
  return `non-error thrown: ${text}`.replace(/\s+/g, ' ').slice(0, 1024);
}
