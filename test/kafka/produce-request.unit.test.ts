/**
 * jobbus's Produce request writer (produce-request.ts, used by the platformatic driver) writes
 * the same bytes as `@platformatic/kafka`'s own encoder (`produceV<n>.createRequest`) for the
 * same messages and producer state: topics and partitions in the library's order, keys and
 * values absent, empty or large (1-, 2- and 3-byte length varints), headers with absent values,
 * timestamps given, missing or going backwards, idempotent sequences, every acks value.
 */
import { Buffer } from 'node:buffer';
import * as Plt from '@platformatic/kafka';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { OWN_PRODUCE_VERSIONS } from '../../src/eventbus/kafka/platformatic-produce.js';
import { encodeProduceRequest, type Crc32c, type GroupBy, type ProduceMessage, type ProduceOptions } from '../../src/eventbus/kafka/produce-request.js';

const b = (s: string): Buffer => Buffer.from(s);
type Library = (acks: number, timeout: number, messages: ProduceMessage[], options: ProduceOptions) => { buffers: Buffer[]; context: { noResponse?: boolean } };

function libraryBytes(version: number, acks: number, messages: ProduceMessage[], options: ProduceOptions): Buffer {
  const ns = (Plt as unknown as Record<string, { createRequest: Library }>)[`produceV${version}`]!;
  return Buffer.concat(ns.createRequest(acks, 30_000, messages, options).buffers);
}

function ownBytes(acks: number, messages: ProduceMessage[], options: ProduceOptions): Buffer {
  return encodeProduceRequest(acks, 30_000, messages, options, Plt.crc32c as unknown as Crc32c, Plt.groupByProperty as unknown as GroupBy);
}

/** A deep copy (both encoders set missing partitions and timestamps on the messages). */
const copy = (ms: readonly ProduceMessage[]): ProduceMessage[] => ms.map((m) => ({ ...m }));

function sequences(entries: Record<string, number>): ProduceOptions['sequences'] {
  const map = new Plt.NumericMap();
  for (const [k, v] of Object.entries(entries)) map.set(k, v);
  return map as unknown as ProduceOptions['sequences'];
}

const T = 1_764_000_000_000n;

const CASES: { name: string; messages: ProduceMessage[]; options?: ProduceOptions }[] = [
  { name: 'one record, no key, no headers', messages: [{ topic: 't', partition: 0, value: b('v'), timestamp: T }] },
  {
    name: 'jobs-like records with headers, keys, an absent header value',
    messages: Array.from({ length: 300 }, (_, i) => ({
      topic: 'orders',
      partition: i % 3,
      key: b(`noop:${i}`),
      value: b(JSON.stringify({ p: 'x'.repeat(92) })),
      headers: new Map<Uint8Array, Uint8Array | null>([
        [b('job_id'), b(`0193-${i}`)],
        [b('job_queue'), b('orders')],
        [b('empty'), null],
      ]),
      timestamp: T + BigInt(i % 7),
    })),
    options: { producerId: 4242n, producerEpoch: 3, sequences: sequences({ 'orders:0': 17, 'orders:2': 2_147_483_000 }) },
  },
  {
    name: 'topics and partitions out of order (numeric-looking names too), absent and empty keys and values',
    messages: [
      { topic: 'b', partition: 5, key: null, value: b(''), timestamp: T },
      { topic: '123', partition: 1, key: b(''), value: null, timestamp: T - 5n },
      { topic: 'a', partition: 3, value: b('x'), headers: new Map(), timestamp: T + 1_000_000n },
      { topic: 'b', partition: 1, value: b('y'), timestamp: T },
      { topic: 'a', partition: 3, value: b('z'), timestamp: T - 10n },
      { topic: '123', partition: 0, value: b('w'), timestamp: T },
    ],
  },
  {
    name: 'record sizes around the length varint boundaries',
    messages: [1, 50, 60, 70, 8_000, 8_190, 8_200, 20_000, 1_100_000].map((n, i) => ({ topic: 't', partition: 0, key: b(`k${i}`), value: Buffer.alloc(n, 97), timestamp: T })),
  },
];

describe('Produce request writer', () => {
  afterEach(() => vi.restoreAllMocks());

  it('the versions it writes are ones the library implements', () => {
    for (let v = OWN_PRODUCE_VERSIONS.first; v <= OWN_PRODUCE_VERSIONS.last; v++) {
      expect(typeof (Plt as unknown as Record<string, { createRequest?: unknown }>)[`produceV${v}`]?.createRequest).toBe('function');
    }
  });

  for (const c of CASES) {
    it(`writes the library's bytes: ${c.name}`, () => {
      for (let v = OWN_PRODUCE_VERSIONS.first; v <= OWN_PRODUCE_VERSIONS.last; v++) {
        for (const acks of [-1, 0, 1]) {
          const options = c.options ?? {};
          const own = ownBytes(acks, copy(c.messages), options);
          const lib = libraryBytes(v, acks, copy(c.messages), options);
          expect(own.length, `v${v} acks ${acks}`).toBe(lib.length);
          expect(own.equals(lib), `v${v} acks ${acks}`).toBe(true);
        }
      }
    });
  }

  it('sets missing partitions and timestamps as the library does (the same instant for the whole request)', () => {
    vi.spyOn(Date, 'now').mockReturnValue(Number(T));
    const messages: ProduceMessage[] = [{ topic: 't', value: b('a') }, { topic: 't', value: b('b'), timestamp: T + 3n }];
    const mine = copy(messages);
    const own = ownBytes(-1, mine, {});
    const lib = libraryBytes(11, -1, copy(messages), {});
    expect(own.equals(lib)).toBe(true);
    expect(mine.map((m) => [m.partition, m.timestamp])).toEqual([
      [0, T],
      [0, T + 3n],
    ]);
  });

  it('refuses a field that is not bytes instead of writing something else', () => {
    expect(() => ownBytes(-1, [{ topic: 't', partition: 0, value: 'text' as unknown as Uint8Array, timestamp: T }], {})).toThrow(InvalidArgumentError);
  });
});
