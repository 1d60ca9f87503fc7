/**
 * The platformatic driver reads fetch responses with jobbus's own reader (record-batch.ts); the
 * library's reader stays the fall-back for Fetch versions outside 12–17. Against the real
 * broker, both must read the same records from the same topic: keys, values, timestamps
 * (create and log-append time), repeated headers, every compression codec the library has,
 * transaction markers (committed and aborted transactions) and positions inside a batch.
 */
import { Buffer } from 'node:buffer';
import { CompressionTypes, type Producer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { FAST_FETCH_VERSIONS, negotiatedFetchVersion } from '../../src/eventbus/kafka/platformatic-fetch-response.js';
import { fetchPartitions, type FetchSettings } from '../../src/eventbus/kafka/platformatic-fetch.js';
import type { ConsumedRecord } from '../../src/eventbus/kafka/port.js';
import { kafkaBrokers, uniqueName } from '../setup/env.js';
import { cleanup, plainKafka, testDriver, topicName, waitFor } from './helpers.js';

type Plt = typeof import('@platformatic/kafka');

/** A record as both readers must show it (the library reads log-append time wrong: its timestamp apart). */
function shown(r: ConsumedRecord): Record<string, unknown> {
  const hex = (b: Uint8Array | null | undefined): string | null => (b ? Buffer.from(b).toString('hex') : null);
  const raw = Object.entries(r.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => hex(x as Uint8Array)) : hex(v as Uint8Array)]);
  return { offset: r.offset, key: hex(r.key), value: hex(r.value), timestamp: r.timestamp, raw, decoded: r.decodeHeaders?.() };
}

/** Every record of `topic`'s partition 0 from `from` on, read by `reader`. */
async function readAll(mod: Plt, topic: string, from: number, end: number, reader: FetchSettings['reader']): Promise<Record<string, unknown>[]> {
  const client = new mod.Consumer({ clientId: 'jobbus-test-reader', bootstrapBrokers: kafkaBrokers(), groupId: uniqueName('reader') });
  const pool = new mod.ConnectionPool('jobbus-test-reader');
  const out: Record<string, unknown>[] = [];
  try {
    // The broker speaks a version jobbus's reader reads (else both sides would be the library's).
    const version = await negotiatedFetchVersion(mod, client);
    expect(version).toBeGreaterThanOrEqual(FAST_FETCH_VERSIONS.first);
    expect(version).toBeLessThanOrEqual(FAST_FETCH_VERSIONS.last);
    let at = from;
    // Small fetches: batches split over responses, cut-off batches read again.
    const settings: FetchSettings = { maxWaitTimeMs: 100, maxBytesPerPartition: 256, reader };
    for (let round = 0; at < end && round < 500; round++) {
      const failures: unknown[] = [];
      const [f] = await fetchPartitions(mod, client, pool, [{ topic, partition: 0, offset: at }], settings, failures);
      expect(failures).toEqual([]);
      for (const r of f?.records ?? []) out.push(shown(r));
      if (f?.nextOffset !== undefined) at = Math.max(at, f.nextOffset);
    }
    expect(at).toBeGreaterThanOrEqual(end);
    return out;
  } finally {
    await pool.close().catch(() => undefined);
    await new Promise<void>((resolve) => client.close(true, () => resolve()));
  }
}

describe.runIf(testDriver() === 'platformatic')('platformatic fetch: jobbus reader and library reader', () => {
  const producers: Producer[] = [];
  const admin = plainKafka().admin();
  afterAll(async () => {
    await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
    await admin.disconnect();
    await cleanup();
  });

  it.each([
    ['CreateTime', 'create time'],
    ['LogAppendTime', 'log-append time'],
  ])('read the same records (%s topic)', async (timestampType) => {
    const producedFrom = Date.now();
    const mod = (await import('@platformatic/kafka')) as Plt;
    const topic = topicName('reader');
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: timestampType! }] }] });
    await waitFor(async () => (await admin.fetchTopicOffsets(topic).catch(() => [])).length === 1, 30_000, 'the topic leader');
    const kafka = plainKafka();
    const plain = kafka.producer();
    const tx = kafka.producer({ transactionalId: uniqueName('tx'), idempotent: true, maxInFlightRequests: 1 });
    producers.push(plain, tx);
    await Promise.all([plain.connect(), tx.connect()]);
    const h = (v: string): Buffer => Buffer.from(v);
    await plain.send({
      topic,
      messages: [
        { key: 'k1', value: 'one', headers: { job_id: 'a', job_queue: 'orders', rep: [h('1'), h('2')] } },
        { key: null, value: '', headers: { bad: Buffer.from([0x61, 0xff]), ['__proto__']: 'p' } },
        { key: '', value: 'x'.repeat(300), timestamp: '1700000000000' },
      ],
    });
    await plain.send({ topic, compression: CompressionTypes.GZIP, messages: Array.from({ length: 20 }, (_, i) => ({ key: `g${i}`, value: `gzip ${i}`, headers: { job_id: `g${i}` } })) });
    // Transactions: a committed one and an aborted one (read uncommitted: its records come, its marker does not).
    for (const outcome of ['commit', 'abort'] as const) {
      const t = await tx.transaction();
      await t.send({ topic, messages: [{ key: `${outcome}-1`, value: outcome }, { key: `${outcome}-2`, value: outcome }] });
      await (outcome === 'commit' ? t.commit() : t.abort());
    }
    // Every codec of the library, through its own producer.
    const codecs = Object.entries(mod.compressionsAlgorithms).filter(([name, a]) => name !== 'none' && (a as { available?: boolean }).available !== false);
    const producer = new mod.Producer({ clientId: 'jobbus-test-reader', bootstrapBrokers: kafkaBrokers(), acks: mod.ProduceAcks.ALL, autocreateTopics: false });
    try {
      for (const [name] of codecs) {
        const messages = Array.from({ length: 5 }, (_, i) => ({ topic, partition: 0, key: Buffer.from(`${name}${i}`), value: Buffer.from(`${name} ${i}`), headers: new Map([[Buffer.from('job_id'), Buffer.from(`${name}${i}`)]]) }));
        await producer.send({ messages, compression: name as never });
      }
    } finally {
      await producer.close();
    }
    const [watermark] = await admin.fetchTopicOffsets(topic);
    const end = Number(watermark!.high);
    const mine = await readAll(mod, topic, 0, end, 'jobbus');
    const library = await readAll(mod, topic, 0, end, 'library');
    // 3 plain + 20 gzip + 4 transactional + 5 per codec (markers are not records).
    expect(mine).toHaveLength(27 + 5 * codecs.length);
    if (timestampType === 'CreateTime') expect(mine).toEqual(library);
    else {
      // Log-append time is the batch's max timestamp (Kafka's DefaultRecord); the library adds
      // the record's delta to the first timestamp instead, a millisecond off at times.
      const untimed = (rs: Record<string, unknown>[]): unknown[] => rs.map(({ timestamp: _t, ...rest }) => rest);
      expect(untimed(mine)).toEqual(untimed(library));
      for (const r of mine) expect(r.timestamp).toBeGreaterThanOrEqual(producedFrom);
    }
    // A position inside a compressed batch: the records below it are left out.
    expect(await readAll(mod, topic, 10, end, 'jobbus')).toEqual(mine.slice(10));
  }, 60_000);
});
