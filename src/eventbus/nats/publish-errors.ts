/**
 * Publish failures as jobbus errors: refused for good ({@link PublishRejectedError}, not
 * retryable) or transient ({@link UnavailableError}). Nothing raw leaves a publish.
 */
import { JobbusError, PublishRejectedError, UnavailableError } from '../../jobs/errors.js';
import { PublishFailedError, type PublishFailure } from './publisher.js';

/**
 * JetStream API errors that pass: no quorum / leader, insufficient resources, timeouts.
 * Everything else the stream answers (message or header too large, maximum messages or bytes
 * exceeded with DiscardNew, wrong expected stream or sequence) fails the same way again.
 */
const TRANSIENT_API_CODES = new Set([10008, 10023, 10074]);
const TRANSIENT_TEXT = /not available|no (?:suitable )?leader|timeout|timed out|insufficient resources|temporar/i;

/** True when a failure refuses this message for good. */
export function isPermanent(failure: PublishFailure): boolean {
  switch (failure.kind) {
    case 'no-stream':
    case 'too-large':
    case 'permission':
      return true;
    case 'api':
      return !TRANSIENT_API_CODES.has(failure.code) && !TRANSIENT_TEXT.test(failure.description);
    default:
      return false;
  }
}

/** The jobbus error for a failed publish to `topic` (`subject`). */
export function publishError(topic: string, subject: string, err: unknown): JobbusError {
  if (err instanceof JobbusError) return err;
  if (err instanceof PublishFailedError) {
    const f = err.failure;
    if (f.kind === 'no-stream') return new PublishRejectedError(topic, `no stream binds subject ${subject}`, { cause: err });
    if (isPermanent(f)) return new PublishRejectedError(topic, err.message, { cause: err });
    return new UnavailableError(`publish to "${topic}" failed: ${err.message}`, { cause: err });
  }
  return new UnavailableError(`publish to "${topic}" failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** The error for a PubAck saying "duplicate, not stored" when the publish had to store a copy. */
export function notStoredError(topic: string, dedupId: string): UnavailableError {
  return new UnavailableError(
    `publish to "${topic}" was not stored: the stream answered "duplicate" for Nats-Msg-Id ${JSON.stringify(dedupId)} (a copy must be stored; publish it with an id unique to the copy)`,
  );
}
