/**
 * The guard around an idempotent Kafka producer (src/eventbus/kafka/idempotent-producer.ts):
 * sends one at a time, a fresh producer after a failed send, none after disconnect. The broker
 * behaviour it exists for is tested on real Kafka in test/kafka/idempotent-lost-reply.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { guardIdempotentProducer } from '../../src/eventbus/kafka/idempotent-producer.js';
import type { ProduceRecord, ProducerPort } from '../../src/eventbus/kafka/port.js';

interface Recorded {
  readonly producers: { id: number; sends: string[]; closed: boolean }[];
  /** Sends running at once, at most. */
  maxConcurrent: number;
}

/** Producers that record their sends; a send to topic `fail` rejects. */
function recordingOpener(): { open: () => Promise<ProducerPort>; rec: Recorded } {
  const rec: Recorded = { producers: [], maxConcurrent: 0 };
  let running = 0;
  const open = async (): Promise<ProducerPort> => {
    const me = { id: rec.producers.length, sends: [] as string[], closed: false };
    rec.producers.push(me);
    return {
      async send(topic: string, _records: readonly ProduceRecord[]) {
        running++;
        rec.maxConcurrent = Math.max(rec.maxConcurrent, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        me.sends.push(topic);
        if (topic === 'fail') throw new Error('reply lost');
      },
      async disconnect() {
        me.closed = true;
      },
    };
  };
  return { open, rec };
}

const none: readonly ProduceRecord[] = [];

describe('guardIdempotentProducer', () => {
  it('sends one at a time', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    await Promise.all(['a', 'b', 'c', 'd'].map((t) => p.send(t, none)));
    expect(rec.maxConcurrent).toBe(1);
    expect(rec.producers[0]!.sends).toEqual(['a', 'b', 'c', 'd']);
  });

  it('after a failed send, the next one (even one already waiting) runs on a new producer and the old one is closed', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    const results = await Promise.allSettled([p.send('a', none), p.send('fail', none), p.send('b', none), p.send('c', none)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(rec.producers.map((x) => x.sends)).toEqual([['a', 'fail'], ['b', 'c']]);
    expect(rec.producers[0]!.closed).toBe(true);
    expect(rec.producers[1]!.closed).toBe(false);
  });

  it('a failed reopen fails that send and the next send opens again', async () => {
    const { open, rec } = recordingOpener();
    let refuse = false;
    const flaky = () => (refuse ? Promise.reject(new Error('broker down')) : open());
    const p = guardIdempotentProducer(await open(), flaky);
    await expect(p.send('fail', none)).rejects.toThrow('reply lost');
    refuse = true;
    await expect(p.send('x', none)).rejects.toThrow('broker down');
    refuse = false;
    await p.send('y', none);
    expect(rec.producers.map((x) => x.sends)).toEqual([['fail'], ['y']]);
  });

  it('disconnect waits for the send in flight, closes the producer, and later sends reject', async () => {
    const { open, rec } = recordingOpener();
    const p = guardIdempotentProducer(await open(), open);
    const sending = p.send('a', none);
    await p.disconnect();
    await sending;
    expect(rec.producers[0]).toMatchObject({ sends: ['a'], closed: true });
    await expect(p.send('b', none)).rejects.toThrow(/disconnected/);
    expect(rec.producers).toHaveLength(1);
  });
});
