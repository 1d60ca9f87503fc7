/**
 * Keeps an idempotent producer from acknowledging records it never stored.
 *
 * An idempotent producer numbers each partition's records; the broker takes a batch whose
 * sequence range matches one of the producer's last five batches as a duplicate and answers
 * "stored" without comparing contents. When a send fails after the broker stored it (its reply
 * lost, the request timed out), kafkajs 2.2 rolls its sequence back and @platformatic/kafka 1.35
 * never advanced it: the next send numbers *different* records from the same sequence, and the
 * broker acknowledges them without storing them (same record count: jobs lost) or refuses every
 * later send with OUT_OF_ORDER_SEQUENCE_NUMBER (another count: the producer wedged). Concurrent
 * sends share the hazard (a send queued behind the failed one takes its numbers), and
 * @platformatic/kafka numbers concurrent sends from the same sequence even without a failure.
 *
 * So one request goes out at a time, and after a failed one the next runs on a new producer: a
 * new producer id, whose sequences the broker has no history of. The failed request's records
 * may have been stored; its callers were told so (a retryable error), and a retry may store them
 * twice: at least once, never lost.
 *
 * One at a time must not mean one caller at a time: callers that send while a request is in
 * flight wait together and go out as the next request, merged (in arrival order, so per-partition
 * order holds) up to the sender's request limits; the driver sends it to every leader at once.
 * A merged request a broker answered with an error (one caller's record too large, its topic
 * unknown…) is sent again caller by caller, so no caller gets another's error (records of the
 * others may be stored twice: at least once); a request that got no answer (connection lost,
 * timed out) fails every caller in it, as a request of their own would have, without waiting out
 * one timeout per caller.
 *
 *   OPEN(p) --request fails--> STALE(p) --next request: close p (not awaited), open p'--> OPEN(p')
 *   STALE --opening fails (that request's callers reject)--> STALE   any --disconnect--> CLOSED
 *   IDLE --send--> SENDING --request settled, callers waiting--> SENDING (their merged request)
 *   SENDING --request settled, none waiting--> IDLE
 */
import type { ProduceRecord, ProducerPort } from './port.js';
import { isBrokerErrorAnswer } from './publish-errors.js';
import { approxSize, SEND_CHUNK_BYTES, SEND_CHUNK_RECORDS } from './sender.js';

/** Records for one topic, as one part of a request to several topics. */
export interface TopicRecords {
  readonly topic: string;
  readonly records: readonly ProduceRecord[];
}

/** A driver's producer that can also send to several topics in one go (one request per leader). */
export interface MultiTopicProducer extends ProducerPort {
  /** Send every batch (acks = all); resolves once all are stored, rejects if any part failed. */
  sendBatches(batches: readonly TopicRecords[]): Promise<void>;
}

/** A caller waiting for its records to go out. */
interface Waiting extends TopicRecords {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  /** Send without merging (a broker refused its merged request). */
  readonly alone: boolean;
  /** Estimated bytes of `records`, once computed (a caller may be weighed for several requests). */
  bytes?: number;
}

/** Most records and estimated bytes of one merged request (a single caller's send goes as it is). */
export interface MergeLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

const SENDER_LIMITS: MergeLimits = { maxRecords: SEND_CHUNK_RECORDS, maxBytes: SEND_CHUNK_BYTES };

/**
 * Wrap the driver's connected idempotent producer `first`; `open` connects a fresh one (same
 * settings) when a request failed. The result is the bus's producer for its whole life.
 */
export function guardIdempotentProducer(
  first: MultiTopicProducer,
  open: () => Promise<MultiTopicProducer>,
  limits: MergeLimits = SENDER_LIMITS,
): ProducerPort {
  let current: MultiTopicProducer | undefined = first;
  let stale = false;
  let closed = false;
  const waiting: Waiting[] = [];
  /** The loop sending the waiting callers' requests; undefined while idle. */
  let pumping: Promise<void> | undefined;

  const usable = async (): Promise<MultiTopicProducer> => {
    if (!stale && current) return current;
    const old = current;
    current = undefined;
    // The old producer has nothing in flight (one request at a time); its close must not hold up the next.
    void old?.disconnect().catch(() => undefined);
    current = await open();
    stale = false;
    return current;
  };

  /** The next request: the first waiting caller, and those after it while the limits allow. */
  const takeRequest = (): Waiting[] => {
    const head = waiting.shift()!;
    if (head.alone) return [head];
    let records = head.records.length;
    let bytes = -1; // computed only when there is something to merge
    let n = 0;
    while (n < waiting.length) {
      const next = waiting[n]!;
      if (next.alone || records + next.records.length > limits.maxRecords) break;
      if (bytes < 0) bytes = sizeOf(head);
      const size = sizeOf(next);
      if (bytes + size > limits.maxBytes) break;
      records += next.records.length;
      bytes += size;
      n++;
    }
    return [head, ...waiting.splice(0, n)];
  };

  const sendRequest = async (request: Waiting[]): Promise<void> => {
    try {
      const p = await usable();
      try {
        await (request.length === 1 ? p.send(request[0]!.topic, request[0]!.records) : p.sendBatches(byTopic(request)));
      } catch (err) {
        stale = true;
        throw err;
      }
    } catch (err) {
      if (request.length > 1 && isBrokerErrorAnswer(err)) {
        // Someone's records were refused: find out whose, caller by caller (at the head, in order).
        waiting.unshift(...request.map((w) => ({ ...w, alone: true })));
      } else {
        for (const w of request) w.reject(err);
      }
      return;
    }
    for (const w of request) w.resolve();
  };

  const pump = async (): Promise<void> => {
    while (waiting.length) {
      await sendRequest(takeRequest());
      // Let the callers just answered send again before the next request is cut: without this
      // turn, one caller that arrived meanwhile goes alone and the rest wait a whole request.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    pumping = undefined;
  };

  return {
    send(topic, records) {
      if (closed) return Promise.reject(new Error('the Kafka producer was disconnected (the bus is closed)'));
      return new Promise<void>((resolve, reject) => {
        waiting.push({ topic, records, resolve, reject, alone: false });
        pumping ??= pump();
      });
    },
    // Sends made before the disconnect still go out; later ones reject.
    async disconnect() {
      closed = true;
      await pumping;
      const p = current;
      current = undefined;
      await p?.disconnect();
    },
  };
}

/** Estimated bytes of a caller's records (the sender's estimate), computed once. */
function sizeOf(w: Waiting): number {
  if (w.bytes === undefined) {
    let n = 0;
    for (const r of w.records) n += approxSize(r);
    w.bytes = n;
  }
  return w.bytes;
}

/** The callers' records by topic, each topic's in arrival order. */
function byTopic(request: readonly Waiting[]): TopicRecords[] {
  const out = new Map<string, ProduceRecord[]>();
  for (const w of request) {
    const list = out.get(w.topic);
    if (list) for (const r of w.records) list.push(r);
    else out.set(w.topic, [...w.records]);
  }
  return [...out].map(([topic, records]) => ({ topic, records }));
}
