/**
 * The guard around an idempotent Kafka producer (src/eventbus/kafka/idempotent-producer.ts):
 * one request at a time, callers waiting behind it merged into the next, a fresh producer after
 * a failed request, none after disconnect. The broker behaviour it exists for is tested on real
 * Kafka in test/kafka/idempotent-producer.test.ts; the merge on real Kafka in
 * test/kafka/producer-merge.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { guardIdempotentProducer, type MultiTopicProducer, type TopicRecords } from '../../src/eventbus/kafka/idempotent-producer.js';
import type { ProduceRecord } from '../../src/eventbus/kafka/port.js';

interface Recorded {
  /** Per producer: its requests, each as `topic:count` parts joined by `+`. */
  readonly producers: { id: number; requests: string[]; closed: boolean }[];
  /** Requests running at once, at most. */
  maxConcurrent: number;
}

/** A broker's error answer, as the drivers report one (a Kafka error type in the chain). */
const refused = (type: string): Error => Object.assign(new Error(`refused: ${type}`), { type });

/**
 * Producers that record their requests; a request with topic `fail` rejects with no answer
 * (reply lost), with `big` the broker refuses it for good, with `gone` as an unknown topic.
 */
function recordingOpener(): { open: () => Promise<MultiTopicProducer>; rec: Recorded } {
  const rec: Recorded = { producers: [], maxConcurrent: 0 };
  let running = 0;
  const open = async (): Promise<MultiTopicProducer> => {
    const me = { id: rec.producers.length, requests: [] as string[], closed: false };
    rec.producers.push(me);
    const request = async (batches: readonly TopicRecords[]): Promise<void> => {
      running++;
      rec.maxConcurrent = Math.max(rec.maxConcurrent, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      me.requests.push(batches.map((b) => `${b.topic}:${b.records.length}`).join('+'));
      if (batches.some((b) => b.topic === 'fail')) throw new Error('reply lost');
      if (batches.some((b) => b.topic === 'big')) throw refused('MESSAGE_TOO_LARGE');
      if (batches.some((b) => b.topic === 'gone')) throw refused('UNKNOWN_TOPIC_OR_PARTITION');
    };
    return {
      send: (topic, records) => request([{ topic, records }]),
      sendBatches: request,
      async disconnect() {
        me.closed = true;
      },
    };
  };
  return { open, rec };
}

const records = (n: number, valueBytes = 10): ProduceRecord[] =>
  Array.from({ length: n }, () => ({ value: new Uint8Array(valueBytes), headers: {} }));
const one = records(1);

describe('guardIdempotentProducer', () => {
  it('sends one request at a time; callers waiting behind it go out merged, topics kept apart', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    await Promise.all([p.send('a', one), p.send('b', one), p.send('a', records(2)), p.send('c', one)]);
    expect(rec.maxConcurrent).toBe(1);
    // 'a' went alone (nothing in flight); the three sends made meanwhile went as one request.
    expect(rec.producers[0]!.requests).toEqual(['a:1', 'b:1+a:2+c:1']);
  });

  it('keeps each topic\'s records in the order they were sent', async () => {
    const seen: ProduceRecord[][] = [];
    const producer: MultiTopicProducer = {
      send: async (_t, r) => void seen.push([...r]),
      sendBatches: async (batches) => void seen.push(...batches.map((b) => [...b.records])),
      disconnect: async () => undefined,
    };
    const p = guardIdempotentProducer(producer, async () => producer);
    const [r1, r2, r3, r4] = [records(1), records(2), records(1), records(3)];
    await Promise.all([p.send('t', r1!), p.send('t', r2!), p.send('u', r3!), p.send('t', r4!)]);
    expect(seen).toEqual([r1, [...r2!, ...r4!], r3]);
  });

  it('merges no more than the limits allow; a single send larger than them goes as it is', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open, { maxRecords: 3, maxBytes: 1_000 });
    await Promise.all([p.send('x', one), p.send('a', records(2)), p.send('b', records(1)), p.send('c', records(1)), p.send('d', records(5)), p.send('e', records(1, 900)), p.send('f', records(1, 900))]);
    expect(rec.producers[0]!.requests).toEqual(['x:1', 'a:2+b:1', 'c:1', 'd:5', 'e:1', 'f:1']);
  });

  it('after a failed request, the next one runs on a new producer and the old one is closed', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    const first = p.send('a', one);
    const failing = p.send('fail', one);
    await first;
    await expect(failing).rejects.toThrow('reply lost');
    await Promise.all([p.send('b', one), p.send('c', one)]);
    expect(rec.producers.map((x) => x.requests)).toEqual([['a:1', 'fail:1'], ['b:1+c:1']]);
    expect(rec.producers[0]!.closed).toBe(true);
    expect(rec.producers[1]!.closed).toBe(false);
  });

  it('a merged request that got no answer fails every caller in it; the next request runs on a new producer', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    const results = await Promise.allSettled([p.send('a', one), p.send('b', one), p.send('fail', one), p.send('c', one)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    await p.send('d', one);
    expect(rec.producers.map((x) => x.requests)).toEqual([['a:1', 'b:1+fail:1+c:1'], ['d:1']]);
  });

  it.each([
    ['refused for good', 'big', 'MESSAGE_TOO_LARGE'],
    ['refused for now (topic unknown)', 'gone', 'UNKNOWN_TOPIC_OR_PARTITION'],
  ])('a merged request a broker answered with an error (%s) is sent again caller by caller: only the refused caller fails', async (_what, topic, type) => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    const results = await Promise.allSettled([p.send('a', one), p.send('b', one), p.send(topic, one), p.send('c', one)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ type });
    expect(rec.producers.map((x) => x.requests)).toEqual([['a:1', `b:1+${topic}:1+c:1`], ['b:1', `${topic}:1`], ['c:1']]);
  });

  it('a failed reopen fails that request and the next send opens again', async () => {
    const { open, rec } = recordingOpener();
    let refuse = false;
    const flaky = () => (refuse ? Promise.reject(new Error('broker down')) : open());
    const p = guardIdempotentProducer(await open(), flaky);
    await expect(p.send('fail', one)).rejects.toThrow('reply lost');
    refuse = true;
    await expect(p.send('x', one)).rejects.toThrow('broker down');
    refuse = false;
    await p.send('y', one);
    expect(rec.producers.map((x) => x.requests)).toEqual([['fail:1'], ['y:1']]);
  });

  it('disconnect waits for the sends made before it, closes the producer, and later sends reject', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    const sending = [p.send('a', one), p.send('b', one)];
    await p.disconnect();
    await Promise.all(sending);
    expect(rec.producers[0]).toMatchObject({ requests: ['a:1', 'b:1'], closed: true });
    await expect(p.send('c', one)).rejects.toThrow(/disconnected/);
    expect(rec.producers).toHaveLength(1);
  });
});
