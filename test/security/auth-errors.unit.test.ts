/**
 * Classification of refused credentials and untrusted certificates, without a broker: the shapes
 * kafkajs 2.2 and @nats-io 3.x produce (seen against the real brokers in the security suite).
 */
import { describe, expect, it } from 'vitest';
import { AuthenticationError, PublishRejectedError, UnavailableError } from '../../src/errors.js';
import { classifyPublishError, kafkaAuthError } from '../../src/eventbus/kafka/publish-errors.js';
import { natsAuthError } from '../../src/eventbus/nats/publish-errors.js';

const named = (name: string, message: string, extra: object = {}): Error => Object.assign(new Error(message), { name, ...extra });

describe('kafkaAuthError', () => {
  const sasl = named('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512', { retriable: false });

  it('a SASL refusal anywhere in the chain is AUTH_FAILED, not retryable, naming the user and the option', () => {
    const wrapped = new UnavailableError('kafka: cannot connect the admin client', { cause: sasl });
    const err = kafkaAuthError(wrapped, 'worker');
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err?.code).toBe('AUTH_FAILED');
    expect(err?.retryable).toBe(false);
    expect(err?.broker).toBe('kafka');
    expect(err?.cause).toBe(wrapped);
    expect(err?.message).toMatch(/refused the SASL credentials for user "worker".*options\.sasl.*retrying does not help/);
  });

  it('the protocol error type SASL_AUTHENTICATION_FAILED counts too', () => {
    expect(kafkaAuthError(named('KafkaJSProtocolError', 'x', { type: 'SASL_AUTHENTICATION_FAILED' }))).toBeInstanceOf(AuthenticationError);
  });

  it('a TLS verification failure is AUTH_FAILED pointing at options.ssl', () => {
    const tls = named('KafkaJSConnectionError', 'Connection error: self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(kafkaAuthError(named('KafkaJSNumberOfRetriesExceeded', tls.message, { originalError: tls }))?.message).toMatch(/options\.ssl/);
  });

  it('an outage or an ACL refusal is not an authentication failure', () => {
    expect(kafkaAuthError(named('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' }))).toBeUndefined();
    expect(kafkaAuthError(named('KafkaJSProtocolError', 'Not authorized', { type: 'TOPIC_AUTHORIZATION_FAILED' }))).toBeUndefined();
  });

  it('classifyPublishError: refused credentials win over the wrapping UnavailableError; a topic ACL refusal stays a PublishRejectedError', () => {
    const wrapped = new UnavailableError('kafka: cannot connect the admin client', { cause: sasl });
    expect(classifyPublishError('q', wrapped, { autoCreateTopics: true, user: 'worker' })).toBeInstanceOf(AuthenticationError);
    const acl = named('KafkaJSProtocolError', 'Not authorized to access topics', { type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
    expect(classifyPublishError('q.dlq', acl, { autoCreateTopics: true })).toBeInstanceOf(PublishRejectedError);
  });
});

describe('natsAuthError', () => {
  it('an Authorization Violation is AUTH_FAILED naming the user and connectionOptions', () => {
    const err = natsAuthError(named('AuthorizationError', "'Authorization Violation'"), 'worker');
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err?.retryable).toBe(false);
    expect(err?.broker).toBe('nats');
    expect(err?.message).toMatch(/refused the credentials for user "worker".*connectionOptions/);
  });

  it('an untrusted certificate (in the cause chain) is AUTH_FAILED pointing at connectionOptions.tls', () => {
    const tls = named('Error', 'self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    expect(natsAuthError(new Error('connection failed', { cause: tls }), undefined)?.message).toMatch(/connectionOptions\.tls/);
  });

  it('a refused connection is not an authentication failure', () => {
    expect(natsAuthError(named('ConnectionError', 'connection refused', { code: 'ECONNREFUSED' }), 'worker')).toBeUndefined();
  });
});
