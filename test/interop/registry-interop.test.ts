/**
 * Interop (issue 17): the registry's own Java serde (Apicurio's Kafka Avro serde from Maven
 * Central, Confluent wire format) and jobbus's registry client agree on the bytes, both ways,
 * and on a record the Java client writes to Kafka.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetDefinition } from '../../src/advanced.js';
import { createJobbus, createSchemaRegistry, defineJob, type Job, type Jobbus } from '../../src/index.js';
import { waitFor } from '../../src/testing/wait.js';
import { cleanup, makeBus, topicName } from '../kafka/helpers.js';
import { kafkaBrokers, registryUrl, uniqueName } from '../setup/env.js';
import { javaClient, type JavaClient } from './java-client.js';

const SCHEMA = {
  type: 'record',
  name: 'InteropOrder',
  namespace: 'dev.jobbus.interop',
  fields: [
    { name: 'orderId', type: 'string' },
    { name: 'quantity', type: 'int' },
    { name: 'createdAtMs', type: 'long' },
    { name: 'total', type: 'double' },
    { name: 'express', type: 'boolean' },
    { name: 'status', type: { type: 'enum', name: 'InteropStatus', symbols: ['NEW', 'PAID', 'SHIPPED'] } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};
interface Order {
  orderId: string;
  quantity: number;
  createdAtMs: number;
  total: number;
  express: boolean;
  status: string;
  tags: string[];
  note: string | null;
}
/** Avro JSON and the plain JS value agree for this record (its only union value is null). */
const ORDER: Order = { orderId: 'o-17', quantity: 3, createdAtMs: 1_764_000_000_123, total: 42.5, express: true, status: 'PAID', tags: ['a', 'ünïcode'], note: null };

// The first run downloads the serde through Maven and compiles the client: minutes, not seconds.
const SETUP_TIMEOUT_MS = 15 * 60_000;

describe('registry interop: the Apicurio Java serde and the jobbus registry client', () => {
  const registry = createSchemaRegistry({ host: registryUrl() });
  const subject = `${uniqueName('interop-orders')}-value`;
  let java: JavaClient;
  let id: number;

  beforeAll(async () => {
    java = await javaClient(registryUrl());
    const source = { type: 'AVRO', schema: SCHEMA } as const;
    // The same schema under another subject first: the version this test uses then has a new
    // global id but the shared content id, so a serde writing global ids would be caught.
    await registry.register(`${uniqueName('interop-decoy')}-value`, source);
    ({ id } = await registry.register(subject, source));
    const meta = (await (await fetch(`${coreUrl()}/groups/default/artifacts/${subject}/meta`)).json()) as { globalId: number; contentId: number };
    expect(meta.contentId).toBe(id);
    expect(meta.globalId).not.toBe(id);
  }, SETUP_TIMEOUT_MS);

  it('Java-serialized bytes carry magic byte 0 and the registered id, and jobbus decodes them', async () => {
    const bytes = await java.produce(subject, ORDER);
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(id);
    expect(await registry.decode(bytes)).toEqual({ value: ORDER, schemaId: id, issues: [] });
    // Avro's binary encoding is canonical: both sides write the very same bytes.
    expect(Buffer.from(await registry.encode(subject, ORDER)).equals(bytes)).toBe(true);
  });

  it('bytes jobbus encodes decode in Java', async () => {
    const other = { ...ORDER, orderId: 'o-node', status: 'SHIPPED', tags: [], quantity: -1 };
    const bytes = Buffer.from(await registry.encode(subject, other));
    expect(bytes.readInt32BE(1)).toBe(id);
    expect(await java.consume(bytes)).toEqual(other);
  });

  it('Java refuses bytes whose id the registry does not know', async () => {
    const bytes = Buffer.from(await registry.encode(subject, ORDER));
    bytes.writeInt32BE(0x7fff_fff0, 1);
    await expect(java.consume(bytes)).rejects.toThrow(/ContentNotFoundException: No content with ID '2147483632'/);
  });

  describe('on Kafka', () => {
    const kafka = new Kafka({ clientId: 'jobbus-interop', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const topic = uniqueName('interop-topic');
    const admin = kafka.admin();

    beforeAll(async () => {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    });
    afterAll(async () => {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    });

    it('a record the Java producer writes (serde as value serializer) is read by kafkajs and decoded by jobbus', async () => {
      const headers = { job_id: 'interop-1', job_name: 'interop.order' };
      const where = await java.send(kafkaBrokers(), { subject, record: ORDER, topic, key: 'o-17', headers });
      expect(where.partition).toBe(0);

      const consumer = kafka.consumer({ groupId: uniqueName('interop-group'), maxWaitTimeInMs: 100 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        const got = await new Promise<{ key: string; value: Buffer; headers: Record<string, string> }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no record on ${topic} within 20 s`)), 20_000);
          void consumer.run({
            eachMessage: async ({ message }) => {
              clearTimeout(timer);
              const h = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
              resolve({ key: String(message.key), value: message.value ?? Buffer.alloc(0), headers: h });
            },
          });
        });
        expect(got.key).toBe('o-17');
        expect(got.headers).toEqual(headers); // no serde headers: the id travels in the payload
        expect(got.value[0]).toBe(0);
        expect(got.value.readInt32BE(1)).toBe(id);
        expect(await registry.decode(got.value)).toEqual({ value: ORDER, schemaId: id, issues: [] });
      } finally {
        await consumer.disconnect();
      }
    });

    describe('through a jobbus worker', () => {
      const queue = topicName('interop-jobs');
      const got: { payload: Order; job: Job }[] = [];
      // The subject the test registered, not `<queue>-value`: the Java producer writes with it.
      const def = defineJob<Order>({ name: `${queue}-order`, queue, registry: { type: 'AVRO', subject }, handler: (payload, ctx) => void got.push({ payload, job: ctx.job }) });
      let jobs: Jobbus;

      beforeAll(async () => {
        jobs = createJobbus({ bus: await makeBus(), ackTimeoutMs: 5_000, schemaRegistry: { host: registryUrl() } });
        await jobs.worker({ definitions: [def] }).start();
      });
      afterAll(async () => {
        await jobs?.close();
        forgetDefinition(def.name);
        await cleanup();
      });

      it('a job the Java producer writes (job_* headers, serde-framed payload) runs with its decoded payload', async () => {
        const headers = { job_id: uniqueName('java-job'), job_name: def.name, job_queue: queue, job_attempt: '0', job_max_attempts: '3' };
        await java.send(kafkaBrokers(), { subject, record: ORDER, topic: queue, key: ORDER.orderId, headers });
        await waitFor(() => got.length === 1, 'the Java-produced job to run', 20_000);
        expect({ ...got[0]!.payload }).toEqual(ORDER);
        expect(got[0]!.job.id).toBe(headers.job_id);
        expect(got[0]!.job.attempt).toBe(0);
      });

      it('a job jobbus enqueues carries a payload the Java serde decodes', async () => {
        const other: Order = { ...ORDER, orderId: 'o-jobbus', tags: ['x'] };
        const job = await jobs.enqueue(def, other);
        expect(Buffer.from(job.payload).readInt32BE(1)).toBe(id);
        expect(await java.consume(Buffer.from(job.payload))).toEqual(other);
      });
    });
  });
});

/** The registry's core v2 API beside its Confluent-compatible one. */
function coreUrl(): string {
  return registryUrl().replace(/\/apis\/.*$/, '/apis/registry/v2');
}
