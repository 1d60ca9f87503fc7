/**
 * Publish failures as jobbus errors: refused for good ({@link PublishRejectedError}, not
 * retryable) or transient ({@link UnavailableError}). Nothing raw leaves a publish.
 */
import { AuthenticationError, JobbusError, PublishRejectedError, UnavailableError } from '../../errors.js';
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

/** Node TLS error codes that mean the server's certificate is not trusted as configured. */
const TLS_FAILURES = /^(?:SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * An {@link AuthenticationError} when a connect failed because the server refused the
 * credentials (`Authorization Violation`, an expired or timed-out authentication) or the client
 * refused the server's certificate; undefined for anything else (an outage stays retryable).
 * `user` (never the password) makes the message actionable.
 */
export function natsAuthError(err: unknown, user: string | undefined): AuthenticationError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'AuthorizationError' || e.name === 'UserAuthenticationExpiredError') {
      const who = user === undefined ? '' : ` for user "${user}"`;
      return new AuthenticationError(
        'nats',
        `nats: the server refused the credentials${who} (${e.message}): check connectionOptions (user/pass, token, nkey or credentials) against the server's authorization; retrying does not help`,
        { cause: err },
      );
    }
    if (typeof code === 'string' && TLS_FAILURES.test(code)) {
      return new AuthenticationError(
        'nats',
        `nats: the server's TLS certificate is not trusted (${e.message}): check connectionOptions.tls (ca or caFile) against the server's certificate; retrying does not help`,
        { cause: err },
      );
    }
  }
  return undefined;
}
