/**
 * The bus's one way to produce: chunked sends with acks = all, every failure classified (D3).
 */
import type { JobbusError } from '../../errors.js';
import type { ProducerPort, ProduceRecord } from './port.js';
import { classifyPublishError, type PublishErrorContext } from './publish-errors.js';

/** Most records per produce request. */
export const SEND_CHUNK_RECORDS = 1_000;
/**
 * Most (estimated) bytes per produce request. A relay forwards up to a whole fetch at once, and
 * one partition's record batch must stay under the broker's / topic's max.message.bytes (1 MiB
 * by default); half of it leaves room for the estimate's error and the batch overhead.
 */
export const SEND_CHUNK_BYTES = 512 * 1024;

/** Estimated wire size of a record (value, key, headers, per-record overhead). */
export function approxSize(r: ProduceRecord): number {
  let n = r.value.byteLength + (r.key?.length ?? 0) * 3 + 24;
  for (const k in r.headers) {
    const v = r.headers[k]!;
    n += k.length * 3 + (typeof v === 'string' ? v.length * 3 : v.byteLength) + 4;
  }
  return n;
}

/**
 * Split `records` into chunks of at most `maxRecords` and `maxBytes` (S5): a record is added to
 * a chunk only if the chunk stays within the byte limit, so no chunk exceeds it; a single record
 * larger than the limit goes alone (the broker then judges it alone). Order is kept.
 */
export function chunkRecords(
  records: readonly ProduceRecord[],
  maxBytes = SEND_CHUNK_BYTES,
  maxRecords = SEND_CHUNK_RECORDS,
): (readonly ProduceRecord[])[] {
  const chunks: (readonly ProduceRecord[])[] = [];
  let current: ProduceRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = approxSize(r);
    if (current.length && (bytes + size > maxBytes || current.length >= maxRecords)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** Sends records to a topic; rejects with a classified JobbusError only. */
export type SendFn = (topic: string, records: readonly ProduceRecord[]) => Promise<void>;

/** Settings of {@link createSender}. */
export interface SenderSettings extends PublishErrorContext {
  /** The (lazily connected) producer. */
  readonly producer: () => Promise<ProducerPort>;
  /** Called after a failed send (e.g. forget the topic so the next publish checks it again). */
  readonly onFailure?: (topic: string, err: JobbusError) => void;
}

/** Build the bus's send function. */
export function createSender(s: SenderSettings): SendFn {
  return async (topic, records) => {
    let p: ProducerPort;
    try {
      p = await s.producer();
    } catch (err) {
      throw classifyPublishError(topic, err, s);
    }
    try {
      for (const chunk of chunkRecords(records)) await p.send(topic, chunk);
    } catch (err) {
      const e = classifyPublishError(topic, err, s);
      s.onFailure?.(topic, e);
      throw e;
    }
  };
}
