/**
 * The platformatic driver's producer writes its Produce requests with jobbus's writer
 * (platformatic-produce.ts). Against the real broker (which checks each batch's CRC and, for an
 * idempotent producer, its sequence numbers): the writer is the one in use, the broker takes
 * its batches over several sends and partitions, and the library's own reader reads back
 * exactly what was sent.
 */
import { Buffer } from 'node:buffer';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchPartitions } from '../../src/eventbus/kafka/platformatic-fetch.js';
import { OWN_PRODUCE_VERSIONS, useOwnProduceWriter } from '../../src/eventbus/kafka/platformatic-produce.js';
import { kafkaBrokers, uniqueName } from '../setup/env.js';
import { cleanup, plainKafka, testDriver, topicName, waitFor } from './helpers.js';

type Plt = typeof import('@platformatic/kafka');

describe.runIf(testDriver() === 'platformatic')('platformatic produce: jobbus request writer', () => {
  afterAll(cleanup);

  it('is used for Produce, and the broker stores what it wrote, as sent', async () => {
    const mod = (await import('@platformatic/kafka')) as Plt;
    const topic = topicName('writer');
    const admin = plainKafka().admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }] });
      await waitFor(async () => (await admin.fetchTopicOffsets(topic).catch(() => [])).length === 3, 30_000, 'the topic leaders');
    } finally {
      await admin.disconnect();
    }
    const connection = { clientId: 'jobbus-test-writer', bootstrapBrokers: kafkaBrokers() };
    const producer = new mod.Producer({ ...connection, idempotent: true, acks: mod.ProduceAcks.ALL, autocreateTopics: false });
    useOwnProduceWriter(mod, producer);
    const sent: { partition: number; key: string; value: string; headers: [string, string | null][] }[] = [];
    try {
      await producer.metadata({ topics: [topic] });
      const api = await new Promise<{ version: number }>((resolve, reject) =>
        (producer as unknown as Record<symbol, (n: string, cb: (e: Error | null, a?: { version: number }) => void) => void>)[mod.kGetApi]!('Produce', (e, a) => (e ? reject(e) : resolve(a!))),
      );
      expect(api.version).toBeGreaterThanOrEqual(OWN_PRODUCE_VERSIONS.first);
      expect(api.version).toBeLessThanOrEqual(OWN_PRODUCE_VERSIONS.last);
      expect(api).not.toBe((mod as unknown as Record<string, { api: unknown }>)[`produceV${api.version}`]!.api);
      for (let round = 0; round < 4; round++) {
        const messages = Array.from({ length: 150 }, (_, i) => {
          const n = round * 150 + i;
          const headers: [string, string | null][] = [
            ['job_id', `id-${n}`],
            ['job_queue', 'orders'],
            ['nothing', null],
          ];
          sent.push({ partition: n % 3, key: `k${n}`, value: 'v'.repeat(n % 300), headers });
          return {
            topic,
            partition: n % 3,
            key: Buffer.from(`k${n}`),
            value: Buffer.from('v'.repeat(n % 300)),
            headers: new Map(headers.map(([k, v]) => [Buffer.from(k), v === null ? (null as unknown as Buffer) : Buffer.from(v)])),
          };
        });
        await producer.send({ messages });
      }
    } finally {
      await producer.close();
    }
    const client = new mod.Consumer({ ...connection, groupId: uniqueName('writer') });
    const pool = new mod.ConnectionPool('jobbus-test-writer');
    try {
      for (const partition of [0, 1, 2]) {
        const expected = sent.filter((s) => s.partition === partition);
        const got: typeof expected = [];
        for (let at = 0, round = 0; got.length < expected.length && round < 50; round++) {
          const failures: unknown[] = [];
          const [f] = await fetchPartitions(mod, client, pool, [{ topic, partition, offset: at }], { maxWaitTimeMs: 100, maxBytesPerPartition: 1_048_576, reader: 'library' }, failures);
          expect(failures).toEqual([]);
          for (const r of f?.records ?? []) {
            const headers = Object.entries(r.headers ?? {}).map(([k, v]) => [k, v === null ? null : Buffer.from(v as Uint8Array).toString()] as [string, string | null]);
            got.push({ partition, key: Buffer.from(r.key!).toString(), value: Buffer.from(r.value!).toString(), headers });
          }
          if (f?.nextOffset !== undefined) at = f.nextOffset;
        }
        expect(got).toEqual(expected);
      }
    } finally {
      await pool.close().catch(() => undefined);
      await new Promise<void>((resolve) => client.close(true, () => resolve()));
    }
  }, 60_000);
});
