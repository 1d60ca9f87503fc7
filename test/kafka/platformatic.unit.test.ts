/**
 * The pure parts of the platformatic driver: option mapping (TLS, SASL), record conversion
 * (control batches, repeated headers, offsets below the fetch position) and error shape.
 */
import { Buffer } from 'node:buffer';
import type * as Plt from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { createKafkaEventBus, type KafkaSaslOptions } from '../../src/eventbus/kafka/index.js';
import { connectionOf, headerMap } from '../../src/eventbus/kafka/platformatic-driver.js';
import { normalize } from '../../src/eventbus/kafka/platformatic-errors.js';
import { toRecords } from '../../src/eventbus/kafka/platformatic-fetch.js';
import { decodeHeaderPairs, decodeHeaderValues, headersOfPairs, recordToMessage, toMessage } from '../../src/eventbus/kafka/wire.js';
import { HEADER_CASES } from './header-cases.js';
import { classifyPublishError, kafkaAuthError } from '../../src/eventbus/kafka/publish-errors.js';
import { PublishRejectedError } from '../../src/errors.js';

const base = { brokers: ['b1:9092', 'b2:9092'], clientId: 'c', connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, idempotent: true };

function batch(firstOffset: number, records: Partial<Plt.KafkaRecord>[], control = false): Plt.RecordsBatch {
  return {
    firstOffset: BigInt(firstOffset),
    lastOffsetDelta: records.length - 1,
    firstTimestamp: 1_000n,
    attributes: control ? 1 << 5 : 0,
    records: records.map((r, i) => ({ length: 0, attributes: 0, timestampDelta: BigInt(i), offsetDelta: i, key: null, value: null, headers: [], ...r })),
  } as unknown as Plt.RecordsBatch;
}

describe('platformatic driver', () => {
  it('maps ssl and sasl to the library options', () => {
    expect(connectionOf(base)).toMatchObject({ clientId: 'c', bootstrapBrokers: ['b1:9092', 'b2:9092'], connectTimeout: 1_000, timeout: 2_000 });
    expect(connectionOf(base).tls).toBeUndefined();
    expect(connectionOf({ ...base, ssl: true }).tls).toEqual({});
    const c = connectionOf({ ...base, ssl: { ca: ['A', 'B'], servername: 'kafka.local', rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(c.tls).toEqual({ ca: ['A', 'B'], servername: 'kafka.local', rejectUnauthorized: true });
    expect(c.sasl).toEqual({ mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
    expect(connectionOf({ ...base, sasl: { mechanism: 'plain', username: 'u', password: 'p' } }).sasl?.mechanism).toBe('PLAIN');
    expect(() => connectionOf({ ...base, sasl: { mechanism: 'oauthbearer', username: 'u', password: 'p' } as unknown as KafkaSaslOptions })).toThrow(InvalidArgumentError);
  });

  it('an unknown driver name is an InvalidArgumentError', async () => {
    await expect(createKafkaEventBus({ brokers: ['127.0.0.1:1'], driver: 'rdkafka' as unknown as 'kafkajs' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('converts records: control batches skipped but counted, repeated headers kept in order, offsets below the position left out', () => {
    const h = (k: string, v: string): [Buffer, Buffer] => [Buffer.from(k), Buffer.from(v)];
    const { records, nextOffset } = toRecords(
      [
        batch(10, [{ value: Buffer.from('a') }, { value: Buffer.from('b'), key: Buffer.from('k'), headers: [h('x', '1'), h('x', '2'), h('y', '3'), h('__proto__', 'p')] }]),
        batch(12, [{ key: Buffer.from([0, 0, 0, 0]) }], true),
      ],
      11,
    );
    expect(nextOffset).toBe(13);
    expect(records).toHaveLength(1);
    expect(records[0]!.offset).toBe(11);
    expect(records[0]!.timestamp).toBe(1_001);
    expect(Buffer.from(records[0]!.key!).toString()).toBe('k');
    const headers = records[0]!.headers!;
    expect((headers.x as Buffer[]).map((b) => b.toString())).toEqual(['1', '2']);
    expect((headers.y as Buffer).toString()).toBe('3');
    expect(Object.keys(headers)).toEqual(['x', 'y', '__proto__']);
    expect((headers['__proto__'] as Buffer).toString()).toBe('p');
  });

  it('gives protocol errors their Kafka name as type, so publish errors classify as on kafkajs', () => {
    const protocol = Object.assign(new Error('too large'), { apiId: 'MESSAGE_TOO_LARGE' });
    const response = Object.assign(new AggregateError([protocol], 'Received response with error'), { code: 'PLT_KFK_RESPONSE' });
    expect(classifyPublishError('t', normalize(response), { autoCreateTopics: true })).toBeInstanceOf(PublishRejectedError);
    const auth = Object.assign(new Error('SASL authentication failed'), { code: 'PLT_KFK_AUTHENTICATION' });
    expect(kafkaAuthError(normalize(new Error('connect failed', { cause: auth })), 'u')).toBeDefined();
    // A "failed N times" aggregate: its first attempt becomes the cause the classification reads.
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const retried = new AggregateError([new Error('network', { cause: tls }), new Error('Connection pool is closed.')], 'listTopics failed 2 times.');
    expect(kafkaAuthError(normalize(retried), 'u')?.message).toMatch(/TLS certificate is not trusted/);
  });

  it('decodes header pairs straight into message headers exactly as the general path does', () => {
    const b = (x: string): Buffer => Buffer.from(x);
    const bad = Buffer.from([0x61, 0xff, 0x62]);
    for (const pairs of [...HEADER_CASES, ...HEADER_CASES]) {
      const fast = decodeHeaderPairs(pairs);
      const general = decodeHeaderValues(headersOfPairs(pairs));
      expect(fast, JSON.stringify(pairs.map(([k, v]) => [k && Buffer.from(k).toString(), v && Buffer.from(v).toString()]))).toEqual(general);
      expect(Object.keys(fast.headers)).toEqual(Object.keys(general.headers));
      expect(Object.getPrototypeOf(fast.headers)).toBe(Object.prototype);
    }
    // A remembered value is a copy: a buffer reused for other bytes of the same length decodes as those.
    const reused = b('orders');
    expect(decodeHeaderPairs([[b('q'), reused]]).headers.q).toBe('orders');
    reused[0] = 0x62;
    expect(decodeHeaderPairs([[b('q'), reused]]).headers.q).toBe('brders');
    // A fetched record's message is the one built from its raw headers.
    const [record] = toRecords([batch(0, [{ key: b('k'), value: b('v'), headers: [[b('a'), bad], [b('job_id'), b('7')]] }])], 0).records;
    expect(recordToMessage(record!)).toEqual(toMessage(record!.key, record!.value, record!.headers));
    expect(recordToMessage(record!).invalidHeaders).toEqual(['a']);
  });

  it('encodes the headers of each record as their own bytes when values and names repeat from the previous record', () => {
    const records: Record<string, string | Uint8Array>[] = [
      { job_id: 'a1', job_queue: 'orders', job_run_at: '2026-11-28T21:00:00.000Z', job_attempt: '0' },
      { job_id: 'a2', job_queue: 'orders', job_run_at: '2026-11-28T21:00:00.000Z', job_attempt: '0' },
      { job_id: 'a3', job_queue: 'ordert', job_run_at: '2026-11-28T21:00:00.001Z', job_attempt: '1' }, // same lengths, other bytes
      { job_queue: 'orders', job_id: 'a4', job_attempt: '' }, // names at other positions, an empty value
      { job_id: 'a5', job_queue: '\u00e9t\u00e9', job_run_at: 'x'.repeat(40), job_attempt: Buffer.from('raw') },
      { job_id: 'a6', job_queue: '\u00e9t\u00e9', job_run_at: 'x'.repeat(40), job_attempt: Buffer.from('raw') },
      { __proto__: 'p', job_id: 'a7' } as unknown as Record<string, string>,
      { job_id: 'a1', job_queue: 'orders', job_run_at: '2026-11-28T21:00:00.000Z', job_attempt: '0' },
    ];
    for (const headers of [...records, ...records]) {
      const written = [...headerMap(headers)].map(([k, v]) => [k.toString(), v.toString('hex')]);
      const expected = Object.keys(headers).map((k) => {
        const v = headers[k]!;
        return [k, (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)).toString('hex')];
      });
      expect(written).toEqual(expected);
    }
  });
});
