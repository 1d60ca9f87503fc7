/**
 * Security on Kafka (issue 14): a private Kafka 4.2 (test/chaos/infra/own-kafka.ts) whose client
 * listener is SASL_SSL with SCRAM-SHA-512 users made at format time, a certificate from a CA
 * made by this test, and ACLs enforced by KRaft's StandardAuthorizer. jobbus connects with
 * `ssl: { ca }` and `sasl`.
 * - a job runs end to end, and a PermanentError job reaches the DLQ;
 * - a wrong password fails the first enqueue (and a subscribe) within seconds with an
 *   AuthenticationError (AUTH_FAILED, not retryable); so does an untrusted broker certificate;
 * - a principal denied WRITE on the DLQ topic gets the S1 behaviour: one handler run, a loud
 *   error log, retries with back-off, and the job reaches the DLQ once the ACL is lifted;
 * - no password appears in a log line, an error or a dead-letter message.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { AuthenticationError, createJob, isJobbusError } from '../../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../../src/advanced.js';
import { createKafkaEventBus, type KafkaEventBus, type KafkaEventBusOptions } from '../../src/eventbus/kafka/index.js';
import { startOwnKafka, type OwnKafka } from '../chaos/infra/own-kafka.js';
import { testDriver } from '../kafka/driver.js';
import { uniqueName } from '../setup/env.js';
import { waitFor } from '../support/wait.js';
import { makeTestPki, type TestPki } from './certs.js';
import { captureLogs, deniedDeadLetter, errorText, expectNoSecret, jobEndToEnd, type LogCapture } from './scenario.js';

const ADMIN_PW = `apw-${randomBytes(12).toString('hex')}`;
const WORKER_PW = `wpw-${randomBytes(12).toString('hex')}`;
const NODLQ_PW = `npw-${randomBytes(12).toString('hex')}`;
const WRONG_PW = `bad-${randomBytes(12).toString('hex')}`;
const SECRETS = [ADMIN_PW, WORKER_PW, NODLQ_PW, WRONG_PW];

// kafkajs enums, as numbers: the test imports kafkajs types only (the bus loads kafkajs itself).
const TOPIC = 2;
const GROUP = 3;
const ALL = 2;
const WRITE = 4;
const DENY = 2;
const ALLOW = 3;
const LITERAL = 3;
const PREFIXED = 4;

let pki: TestPki;
let kafka: OwnKafka;
let admin: Admin;
const logs: LogCapture = captureLogs('kafka-security');
const errors: string[] = [];
const dlqTexts: string[] = [];
const buses: KafkaEventBus[] = [];

/** The configuration the README shows: SASL/SCRAM over TLS trusting the test CA. */
function busOptions(username: string, password: string, ca = pki.caPem): KafkaEventBusOptions {
  return {
    driver: testDriver(),
    brokers: [kafka.address],
    ssl: { ca },
    sasl: { mechanism: 'scram-sha-512', username, password },
    topics: { partitions: 1 },
    consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 },
    logger: logs.logger,
  };
}

async function openBus(username: string, password: string, ca?: string): Promise<KafkaEventBus> {
  const bus = await createKafkaEventBus(busOptions(username, password, ca));
  buses.push(bus);
  return bus;
}

/** What a worker principal needs: its queues' topics (queue, delay, DLQ) and its groups (own, relay, browse). */
function workerAcls(principal: string): Parameters<Admin['createAcls']>[0]['acl'] {
  const allow = { principal, host: '*', operation: ALL, permissionType: ALLOW, resourcePatternType: PREFIXED };
  return [
    { ...allow, resourceType: TOPIC, resourceName: 'sec-' },
    { ...allow, resourceType: GROUP, resourceName: 'sec' },
    { ...allow, resourceType: GROUP, resourceName: 'jobbus.' },
  ];
}

function denyDlq(principal: string, dlq: string): Parameters<Admin['createAcls']>[0]['acl'][number] {
  return { principal, host: '*', operation: WRITE, permissionType: DENY, resourceType: TOPIC, resourceName: dlq, resourcePatternType: LITERAL };
}

/**
 * Resolve once the broker's authorizer answers with `count` ACLs of `principal`: ACL changes
 * reach the broker's authorizer through the metadata log a moment after createAcls resolves.
 */
async function aclsInEffect(principal: string, count: number): Promise<void> {
  await waitFor(async () => {
    const { resources } = await admin.describeAcls({
      resourceType: 1, // ANY
      resourcePatternType: 1, // ANY pattern
      principal,
      host: '*',
      operation: 1, // ANY
      permissionType: 1, // ANY
    });
    return resources.reduce((n, r) => n + r.acls.length, 0) === count;
  }, `${count} ACLs of ${principal} in effect`, 10_000, 50);
}

beforeAll(async () => {
  pki = makeTestPki();
  const scram = (name: string, password: string): string[] => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${password}]`];
  kafka = await startOwnKafka({
    properties: () => ({
      'listener.security.protocol.map': 'CLIENT:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'listener.name.client.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': pki.serverKeystoreFile,
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      // ANONYMOUS: the broker's own PLAINTEXT INTERNAL and CONTROLLER listeners (never advertised to clients).
      'super.users': 'User:admin;User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'false',
    }),
    formatArgs: [...scram('admin', ADMIN_PW), ...scram('worker', WORKER_PW), ...scram('nodlq', NODLQ_PW)],
  });
  const { Kafka, logLevel } = await import('kafkajs');
  admin = new Kafka({
    brokers: [kafka.address],
    ssl: { ca: pki.caPem },
    sasl: { mechanism: 'scram-sha-512', username: 'admin', password: ADMIN_PW },
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  await admin.createAcls({ acl: [...workerAcls('User:worker'), ...workerAcls('User:nodlq')] });
  await aclsInEffect('User:worker', 3);
  await aclsInEffect('User:nodlq', 3);
}, 120_000);

afterAll(async () => {
  for (const bus of buses) await bus.close().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await kafka?.destroy();
  pki?.destroy();
});

describe('Kafka with SASL/SCRAM over TLS and ACLs', () => {
  it('runs a job end to end and dead-letters a PermanentError job', async () => {
    const bus = await openBus('worker', WORKER_PW);
    dlqTexts.push(...(await jobEndToEnd(bus, uniqueName('sec-e2e'), logs.logger)));
  }, 40_000);

  it('a wrong password fails enqueue and subscribe within seconds with AuthenticationError (AUTH_FAILED, not retryable)', async () => {
    const bus = await openBus('worker', WRONG_PW);
    const queue = uniqueName('sec-wrong');
    const backend = createRuntimeBackend(createEventBusBridge(bus, { logger: logs.logger, ownsBus: false }), { logger: logs.logger });
    try {
      const t0 = Date.now();
      const err = await backend.enqueue(createJob({ name: 'ok', queue, payload: {} })).then(() => undefined, (e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(5_000);
      errors.push(errorText(err));
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(isJobbusError(err) && err.code).toBe('AUTH_FAILED');
      expect(isJobbusError(err) && err.retryable).toBe(false);
      expect((err as Error).message).toMatch(/refused the SASL credentials for user "worker".*check options\.sasl/);

      const t1 = Date.now();
      const subErr = await bus.subscribe(queue, async () => undefined, { group: 'sec' }).then(
        async (sub): Promise<unknown> => void (await sub.close()),
        (e: unknown) => e,
      );
      expect(Date.now() - t1).toBeLessThan(5_000);
      errors.push(errorText(subErr));
      expect(subErr).toBeInstanceOf(AuthenticationError);

      // A worker refuses to start (its health check meets the same refusal) instead of retrying.
      const worker = createWorker(backend, { queues: [queue] }, { logger: logs.logger });
      const t2 = Date.now();
      const startErr = await worker.start().then(() => worker.stop(), (e: unknown) => e);
      expect(Date.now() - t2).toBeLessThan(5_000);
      errors.push(errorText(startErr));
      expect(startErr).toBeInstanceOf(AuthenticationError);
    } finally {
      await backend.close();
    }
  }, 30_000);

  it('a broker certificate from an untrusted CA fails with AuthenticationError too', async () => {
    const bus = await openBus('worker', WORKER_PW, pki.otherCaPem);
    const err = await bus.publish(uniqueName('sec-tls'), { value: new Uint8Array(1), headers: {} }).then(() => undefined, (e: unknown) => e);
    errors.push(errorText(err));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as Error).message).toMatch(/TLS certificate is not trusted.*options\.ssl/);
  }, 30_000);

  it('S1: a principal denied WRITE on the DLQ topic loses no job, runs the handler once, logs loudly, and dead-letters once allowed', async () => {
    const queue = uniqueName('sec-denied');
    const deny = denyDlq('User:nodlq', `${queue}.dlq`);
    await admin.createAcls({ acl: [deny] });
    await aclsInEffect('User:nodlq', 4);
    const bus = await openBus('nodlq', NODLQ_PW);
    await deniedDeadLetter(bus, queue, logs, async () => {
      await admin.deleteAcls({ filters: [deny] });
    });
    const refusal = logs.lines.find((l) => l.includes('TOPIC_AUTHORIZATION_FAILED'));
    expect(refusal, 'the refusal names TOPIC_AUTHORIZATION_FAILED').toBeDefined();
  }, 60_000);

  it('no password appears in a log line, an error or a dead-letter message', () => {
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(errors.length).toBe(4);
    expect(dlqTexts.length).toBeGreaterThan(0);
    expectNoSecret('log lines', logs.lines, SECRETS);
    expectNoSecret('errors', errors, SECRETS);
    expectNoSecret('dead-letter messages', dlqTexts, SECRETS);
  });
});
