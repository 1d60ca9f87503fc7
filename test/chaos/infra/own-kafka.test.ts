/**
 * The chaos suite's own Kafka: one broker advertised on a TCP proxy's port, so every client
 * connection after bootstrap goes through the proxy; its records survive kill -9 and a
 * graceful stop on the same ports; destroy leaves nothing behind. Never the shared Kafka.
 *
 * One broker for the whole file keeps it to three JVM starts (cold, after kill -9, after stop).
 */
import * as fs from 'node:fs';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KAFKA_PORT } from '../../setup/brokers.js';
import { startOwnKafka, type OwnKafka } from './own-brokers.js';
import { stablePort } from './own-process.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const TOPIC = 'chaos-infra';
const COUNT = 100;
const expected = Array.from({ length: COUNT }, (_, i) => `r${i}`);

function client(brokers: string[], id: string): Kafka {
  return new Kafka({ clientId: id, brokers, logLevel: logLevel.NOTHING, connectionTimeout: 2000, requestTimeout: 5000, retry: { retries: 3, initialRetryTime: 200 } });
}

/** Consumes the topic from the beginning in a fresh group until all COUNT values are in. */
async function consumeAll(brokers: string[], group: string): Promise<string[]> {
  const consumer = client(brokers, group).consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 500 });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed ${values.length}/${COUNT} within 30 s`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length >= COUNT) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  return values;
}

describe('own Kafka', () => {
  let kafka: OwnKafka;
  let proxy: TcpProxy;
  const times: Record<string, number> = {};

  beforeAll(async () => {
    const advertisedPort = await stablePort();
    const t0 = Date.now();
    kafka = await startOwnKafka({ advertisedPort });
    times.cold = Date.now() - t0;
    proxy = await startTcpProxy({ target: kafka.listenAddress, port: advertisedPort });
    await kafka.createTopic(TOPIC);
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    if (!kafka) return;
    await kafka.destroy();
    expect(fs.existsSync(kafka.dir)).toBe(false);
    console.log(`own kafka start times (ms): ${JSON.stringify({ ...times, perStart: kafka.startTimes })}`);
  }, 60_000);

  it('is its own broker on its own ports', () => {
    expect(kafka.kind).toBe('kafka');
    expect(kafka.address).toBe(`127.0.0.1:${kafka.ports.advertisedPort}`);
    expect(kafka.listenAddress).toBe(`127.0.0.1:${kafka.ports.port}`);
    // Never the suite's shared Kafka (the chaos project runs without its address).
    const shared = (process.env.JOBBUS_KAFKA_BROKERS ?? `127.0.0.1:${DEFAULT_KAFKA_PORT}`).split(',');
    expect(shared).not.toContain(kafka.address);
    expect(shared).not.toContain(kafka.listenAddress);
    expect(fs.readFileSync(`/proc/${kafka.pid}/cmdline`, 'utf8')).toContain(kafka.dir);
  });

  it('advertisedPort routes every connection through the proxy: a cut makes the client fail', async () => {
    // Bootstrap straight at the listener: only the advertised address can send the producer
    // through the proxy.
    const producer: Producer = client([kafka.listenAddress], 'chaos-infra-producer').producer();
    await producer.connect();
    try {
      await producer.send({ topic: TOPIC, acks: -1, messages: expected.slice(0, 50).map((value) => ({ value })) });
      expect(proxy.accepted).toBeGreaterThan(0);
      expect(proxy.connections).toBeGreaterThan(0);
      proxy.cut();
      await expect(producer.send({ topic: TOPIC, acks: -1, messages: [{ value: 'never' }] })).rejects.toThrow();
      proxy.heal();
      await producer.send({ topic: TOPIC, acks: -1, messages: expected.slice(50).map((value) => ({ value })) });
    } finally {
      proxy.heal();
      await producer.disconnect();
    }
  }, 60_000);

  it('keeps its records across kill -9 and a restart on the same ports', async () => {
    const pidBefore = kafka.pid;
    await kafka.kill();
    expect(kafka.pid).toBeUndefined();
    const t0 = Date.now();
    await kafka.start();
    times.afterKill9 = Date.now() - t0;
    expect(kafka.pid).not.toBe(pidBefore);
    expect(await consumeAll([kafka.address], 'chaos-infra-after-kill')).toEqual(expected);
  }, 120_000);

  it('keeps its records across a graceful stop and start', async () => {
    let t0 = Date.now();
    await kafka.stop();
    times.stop = Date.now() - t0;
    expect(kafka.pid).toBeUndefined();
    t0 = Date.now();
    await kafka.start();
    times.afterStop = Date.now() - t0;
    expect(await consumeAll([kafka.address], 'chaos-infra-after-stop')).toEqual(expected);
  }, 120_000);
});

describe('own Kafka with a SCRAM listener and an authorizer (properties + formatArgs)', () => {
  let kafka: OwnKafka;

  beforeAll(async () => {
    kafka = await startOwnKafka({
      properties: () => ({
        'listener.security.protocol.map': 'CLIENT:SASL_PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'sasl.enabled.mechanisms': 'SCRAM-SHA-256',
        'listener.name.client.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        // ANONYMOUS: the PLAINTEXT INTERNAL and CONTROLLER listeners (see OwnKafkaOptions.properties).
        'super.users': 'User:ANONYMOUS;User:alice',
      }),
      formatArgs: ['--add-scram', 'SCRAM-SHA-256=[name=alice,password=alice-secret]', '--add-scram', 'SCRAM-SHA-256=[name=bob,password=bob-secret]'],
    });
    await kafka.createTopic(TOPIC);
  }, 120_000);

  afterAll(async () => {
    if (!kafka) return;
    await kafka.destroy();
    console.log(`own kafka (SCRAM) start times (ms): ${JSON.stringify(kafka.startTimes)}`);
  }, 60_000);

  const scram = (username: string, password: string) =>
    new Kafka({
      clientId: `chaos-infra-${username}`,
      brokers: [kafka.address],
      sasl: { mechanism: 'scram-sha-256', username, password },
      logLevel: logLevel.NOTHING,
      connectionTimeout: 2000,
      retry: { retries: 0 },
    }).producer();

  it('lets the right credentials in, refuses a wrong password and an unauthorised principal', async () => {
    const alice = scram('alice', 'alice-secret');
    await alice.connect();
    await alice.send({ topic: TOPIC, messages: [{ value: 'ok' }] });
    await alice.disconnect();

    await expect(scram('alice', 'wrong').connect()).rejects.toThrow(/SASL SCRAM SHA256 authentication failed/);

    const bob = scram('bob', 'bob-secret');
    await bob.connect();
    try {
      await expect(bob.send({ topic: TOPIC, messages: [{ value: 'denied' }] })).rejects.toThrow(/authoriz/i);
    } finally {
      await bob.disconnect();
    }
  }, 60_000);
});
