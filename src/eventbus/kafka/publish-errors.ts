/**
 * Classification of produce failures (D3): every error out of a publish is a JobbusError.
 * `PublishRejectedError` (not retryable) when the broker refused the records for good — sending
 * the same records again fails the same way; `UnavailableError` (retryable) for everything else
 * (no connection, timeouts, leader moves, retries exhausted on a retriable error).
 */
import { AuthenticationError, JobbusError, NotFoundError, PublishRejectedError, UnavailableError } from '../../errors.js';

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

/**
 * Whether a broker answered a request with a Kafka error (a topic, partition or record refused,
 * for now or for good), as opposed to no answer at all (connection lost, request timed out).
 */
export function isBrokerErrorAnswer(err: unknown): boolean {
  return kafkaErrorTypes(err).length > 0;
}

/** Kafka error types and kafkajs error names that mean the brokers refused the credentials. */
const AUTH_FAILURES: ReadonlySet<string> = new Set([
  'KafkaJSSASLAuthenticationError',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);

/** Node TLS error codes that mean the broker's certificate is not trusted as configured (`ssl`). */
const TLS_FAILURES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * An {@link AuthenticationError} when anything in the cause chain of `err` says the brokers
 * refused this client's credentials (SASL) or the client refused the broker's certificate
 * (TLS); undefined otherwise. `user` (the SASL user name, never the password) makes the message
 * actionable.
 */
export function kafkaAuthError(err: unknown, user?: string): AuthenticationError | undefined {
  if (err instanceof AuthenticationError) return err;
  const seen = new Set<unknown>();
  const find = (e: unknown, depth: number): { kind: 'sasl' | 'tls'; message: string } | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e) || depth > 8) return undefined;
    seen.add(e);
    const x = e as { name?: unknown; type?: unknown; code?: unknown; message?: unknown; cause?: unknown; originalError?: unknown };
    const message = typeof x.message === 'string' ? x.message : '';
    if ((typeof x.name === 'string' && AUTH_FAILURES.has(x.name)) || (typeof x.type === 'string' && AUTH_FAILURES.has(x.type))) {
      return { kind: 'sasl', message };
    }
    if (typeof x.code === 'string' && TLS_FAILURES.has(x.code)) return { kind: 'tls', message };
    return find(x.cause, depth + 1) ?? find(x.originalError, depth + 1);
  };
  const hit = find(err, 0);
  if (!hit) return undefined;
  const who = user === undefined ? '' : ` for user "${user}"`;
  const what =
    hit.kind === 'sasl'
      ? `the brokers refused the SASL credentials${who} (${hit.message}): check options.sasl (mechanism, username, password) against the users the brokers know`
      : `the broker's TLS certificate is not trusted (${hit.message}): check options.ssl (ca, servername) against the brokers' certificates`;
  return new AuthenticationError('kafka', `kafka: ${what}; retrying does not help`, { cause: err });
}

/**
 * Anything a non-publish operation (subscribe, health check, browse) threw, as a JobbusError:
 * refused credentials as an {@link AuthenticationError}, a JobbusError as it is, the rest as a
 * retryable {@link UnavailableError} saying `what` failed.
 */
export function unavailable(what: string, cause: unknown, user: string | undefined): JobbusError {
  const auth = kafkaAuthError(cause, user);
  if (auth) return auth;
  if (cause instanceof JobbusError) return cause;
  return new UnavailableError(`kafka: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}

/** Settings that change the meaning of an error. */
export interface PublishErrorContext {
  /** With topic auto-creation off, a missing topic stays missing: a rejection, not an outage. */
  readonly autoCreateTopics: boolean;
  /** SASL user name, named in an {@link AuthenticationError}. */
  readonly user?: string;
}

/**
 * Turn anything a produce threw into a JobbusError for `topic`, keeping it as `cause`. Refused
 * credentials become an {@link AuthenticationError}. A JobbusError passes through, except a {@link NotFoundError} for the topic (auto-creation off)
 * and an {@link UnavailableError} whose cause is a permanent refusal (a topic creation the broker
 * refused), which become a {@link PublishRejectedError}.
 */
export function classifyPublishError(topic: string, err: unknown, ctx: PublishErrorContext): JobbusError {
  const auth = kafkaAuthError(err, ctx.user);
  if (auth) return auth;
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
