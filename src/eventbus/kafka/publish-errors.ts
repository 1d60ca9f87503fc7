/**
 * Classification of produce failures (D3): every error out of a publish is a JobbusError.
 * `PublishRejectedError` (not retryable) when the broker refused the records for good — sending
 * the same records again fails the same way; `UnavailableError` (retryable) for everything else
 * (no connection, timeouts, leader moves, retries exhausted on a retriable error).
 */
import { JobbusError, NotFoundError, PublishRejectedError, UnavailableError } from '../../jobs/errors.js';

/** Kafka error codes that refuse a record for good, whatever the retry. */
const PERMANENT_TYPES: ReadonlySet<string> = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TIMESTAMP',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_TOPIC_EXCEPTION',
  'POLICY_VIOLATION',
  'INVALID_REQUIRED_ACKS',
  // Answers to the topic creation a publish needs: the same create fails the same way again.
  'INVALID_CONFIG',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
]);

/** Protocol error types (kafkajs `type`) anywhere in the cause chain of `err`. */
export function kafkaErrorTypes(err: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || seen.has(e) || depth > 8) return;
    seen.add(e);
    const x = e as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
    if (typeof x.type === 'string') out.push(x.type);
    walk(x.cause, depth + 1);
    walk(x.originalError, depth + 1);
    if (Array.isArray(x.errors)) for (const inner of x.errors) walk(inner, depth + 1);
  };
  walk(err, 0);
  return out;
}

/** Settings that change the meaning of an error. */
export interface PublishErrorContext {
  /** With topic auto-creation off, a missing topic stays missing: a rejection, not an outage. */
  readonly autoCreateTopics: boolean;
}

/**
 * Turn anything a produce threw into a JobbusError for `topic`, keeping it as `cause`. A
 * JobbusError passes through, except a {@link NotFoundError} for the topic (auto-creation off)
 * and an {@link UnavailableError} whose cause is a permanent refusal (a topic creation the broker
 * refused), which become a {@link PublishRejectedError}.
 */
export function classifyPublishError(topic: string, err: unknown, ctx: PublishErrorContext): JobbusError {
  if (err instanceof NotFoundError && !ctx.autoCreateTopics) {
    return new PublishRejectedError(topic, err.message, { cause: err });
  }
  if (err instanceof UnavailableError && err.cause !== undefined) {
    // Wrapped by the topic provisioner (e.g. a create the broker refused): judge the cause.
    const inner = kafkaErrorTypes(err.cause).find((t) => PERMANENT_TYPES.has(t));
    if (inner) return new PublishRejectedError(topic, `${inner}: ${err.message}`, { cause: err });
  }
  if (err instanceof JobbusError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const types = kafkaErrorTypes(err);
  const permanent = types.find((t) => PERMANENT_TYPES.has(t));
  if (permanent) return new PublishRejectedError(topic, `${permanent}: ${message}`, { cause: err });
  if (!ctx.autoCreateTopics && types.includes('UNKNOWN_TOPIC_OR_PARTITION')) {
    return new PublishRejectedError(topic, `the topic does not exist and autoCreateTopics is false (${message})`, { cause: err });
  }
  return new UnavailableError(`kafka: publish to "${topic}" failed: ${message}`, { cause: err });
}

/** True when a publish error means the records will never be accepted as they are. */
export function isRejected(err: unknown): err is PublishRejectedError {
  return err instanceof PublishRejectedError;
}
