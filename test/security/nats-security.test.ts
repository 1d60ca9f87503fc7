/**
 * Security on NATS (issue 14): a private nats-server 2.9 with TLS (a CA made by this test) and
 * user/password authorization; jobbus connects with `connectionOptions` (user, pass, tls.ca).
 * - a job runs end to end, and a PermanentError job reaches the DLQ;
 * - a wrong password (or an untrusted server certificate) fails createNatsEventBus within
 *   seconds with an AuthenticationError (AUTH_FAILED, not retryable);
 * - a user whose permissions deny publishing to the DLQ subject gets the S1 behaviour: one
 *   handler run, a loud error log, retries with back-off, and the job reaches the DLQ once the
 *   permission is granted (config reload), never lost;
 * - no password appears in a log line, an error or a dead-letter message.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, isJobbusError } from '../../src/index.js';
import { createNatsEventBus, type NatsEventBus, type NatsEventBusOptions } from '../../src/eventbus/nats/index.js';
import { uniqueName } from '../setup/env.js';
import { makeTestPki, type TestPki } from './certs.js';
import { startSecureNats, type SecureNats } from './nats-server.js';
import { captureLogs, deniedDeadLetter, errorText, expectNoSecret, jobEndToEnd, type LogCapture } from './scenario.js';

const WORKER_PW = `wpw-${randomBytes(12).toString('hex')}`;
const NODLQ_PW = `npw-${randomBytes(12).toString('hex')}`;
const WRONG_PW = `bad-${randomBytes(12).toString('hex')}`;
const SECRETS = [WORKER_PW, NODLQ_PW, WRONG_PW];

/**
 * The server's config: TLS required on the client port, two users. `nodlq` may publish
 * anywhere except a DLQ subject (`<prefix>.q.<queue>.dlq`) unless `dlqAllowed`.
 */
function natsConfig(pki: TestPki, dlqAllowed: boolean): (port: number, storeDir: string) => string {
  const deny = dlqAllowed ? '' : ', deny: ["jobbus.q.*.dlq"]';
  return (port, storeDir) => `
listen: 127.0.0.1:${port}
jetstream { store_dir: "${storeDir}", max_memory_store: 64MB, max_file_store: 256MB }
tls { cert_file: "${pki.serverCertFile}", key_file: "${pki.serverKeyFile}", timeout: 2 }
authorization {
  users = [
    { user: "worker", password: "${WORKER_PW}" }
    { user: "nodlq", password: "${NODLQ_PW}", permissions: { publish: { allow: [">"]${deny} }, subscribe: { allow: [">"] } } }
  ]
}
`;
}

let pki: TestPki;
let server: SecureNats;
const logs: LogCapture = captureLogs('nats-security');
const errors: string[] = [];
const dlqTexts: string[] = [];
const buses: NatsEventBus[] = [];

/** The configuration the README shows: user/password plus TLS trusting the test CA. */
function busOptions(user: string, pass: string, ca = pki.caPem): NatsEventBusOptions {
  return {
    servers: server.url,
    connectionOptions: { user, pass, tls: { ca }, name: 'jobbus-security-test' },
    logger: logs.logger,
  };
}

async function openBus(user: string, pass: string): Promise<NatsEventBus> {
  const bus = await createNatsEventBus(busOptions(user, pass));
  buses.push(bus);
  return bus;
}

beforeAll(async () => {
  pki = makeTestPki();
  server = await startSecureNats(natsConfig(pki, false));
});

afterAll(async () => {
  for (const bus of buses) await bus.close().catch(() => undefined);
  await server?.destroy();
  pki?.destroy();
});

describe('NATS with TLS and user/password', () => {
  it('runs a job end to end and dead-letters a PermanentError job', async () => {
    const bus = await openBus('worker', WORKER_PW);
    expect(bus.connection.info?.tls_required).toBe(true);
    dlqTexts.push(...(await jobEndToEnd(bus, uniqueName('sec-e2e'), logs.logger)));
  });

  it('a wrong password fails within seconds with AuthenticationError (AUTH_FAILED, not retryable)', async () => {
    const t0 = Date.now();
    const err = await createNatsEventBus(busOptions('worker', WRONG_PW)).then(
      (bus) => (buses.push(bus), undefined),
      (e: unknown) => e,
    );
    const ms = Date.now() - t0;
    errors.push(errorText(err));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(isJobbusError(err) && err.code).toBe('AUTH_FAILED');
    expect(isJobbusError(err) && err.retryable).toBe(false);
    expect((err as Error).message).toMatch(/refused the credentials for user "worker".*check connectionOptions/);
    expect(ms).toBeLessThan(5_000);
  });

  it('a server certificate from an untrusted CA fails with AuthenticationError too', async () => {
    const err = await createNatsEventBus(busOptions('worker', WORKER_PW, pki.otherCaPem)).then(
      (bus) => (buses.push(bus), undefined),
      (e: unknown) => e,
    );
    errors.push(errorText(err));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toMatch(/TLS certificate is not trusted.*connectionOptions\.tls/);
  });

  it('S1: a user denied the DLQ subject loses no job, runs the handler once, logs loudly, and dead-letters once allowed', async () => {
    const bus = await openBus('nodlq', NODLQ_PW);
    await deniedDeadLetter(bus, uniqueName('sec-denied'), logs, () => server.reload(natsConfig(pki, true)));
    const violation = logs.lines.find((l) => /Permissions Violation for Publish to/i.test(l));
    expect(violation, 'the refusal names the permissions violation').toBeDefined();
  }, 60_000);

  it('no password appears in a log line, an error or a dead-letter message', () => {
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(errors.length).toBe(2);
    expect(dlqTexts.length).toBeGreaterThan(0);
    expectNoSecret('log lines', logs.lines, SECRETS);
    expectNoSecret('errors', errors, SECRETS);
    expectNoSecret('dead-letter messages', dlqTexts, SECRETS);
  });
});
