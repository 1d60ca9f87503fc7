/**
 * Delivery semantics of the Kafka bus against the real broker: key order with concurrency on
 * one partition, the in-flight cap, no offset skipped after a failure, redelivery counts,
 * poison messages, interop with a plain producer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeJob } from '../../src/headers/index.js';
import { DeliveryTerminated, RedeliverAfter, type Delivery } from '../../src/eventbus/types.js';
import { cleanup, elapse, makeBus, msg, plainKafka, plainSend, text, topicName, waitFor } from './helpers.js';

afterEach(cleanup);

describe('kafka delivery', () => {
  it('one partition, concurrency > 1: different keys overlap, equal keys strictly in order', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('order');
    const keys = 8;
    const perKey = 12;
    const batch = [];
    for (let i = 0; i < perKey; i++) for (let k = 0; k < keys; k++) batch.push(msg(String(i), `key-${k}`));
    await bus.publishBatch(topic, batch);
    const seen = new Map<string, number[]>();
    const running = new Map<string, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    let sameKeyOverlap = 0;
    let done = 0;
    await bus.subscribe(
      topic,
      async (d) => {
        const key = d.message.key!;
        if ((running.get(key) ?? 0) > 0) sameKeyOverlap++;
        running.set(key, (running.get(key) ?? 0) + 1);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await elapse(5 + Math.random() * 15);
        seen.set(key, [...(seen.get(key) ?? []), Number(text(d.message))]);
        running.set(key, running.get(key)! - 1);
        inFlight--;
        done++;
      },
      { group: 'g', maxInFlight: 16 },
    );
    await waitFor(() => done === keys * perKey, 30_000, 'all messages');
    expect(sameKeyOverlap).toBe(0);
    for (const list of seen.values()) expect(list).toEqual([...Array(perKey).keys()]);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(keys); // at most one per key
  });

  it('never exceeds maxInFlight; pauses and resumes fetching (ordering none)', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('cap');
    await bus.publishBatch(topic, Array.from({ length: 200 }, (_, i) => msg(String(i), `k${i}`)));
    let inFlight = 0;
    let peak = 0;
    let done = 0;
    await bus.subscribe(
      topic,
      async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await elapse(10);
        inFlight--;
        done++;
      },
      { group: 'g', maxInFlight: 5, ordering: 'none' },
    );
    await waitFor(() => done === 200, 30_000, '200 messages');
    expect(peak).toBe(5);
  });

  it('ordering partition: one at a time per partition', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('porder');
    await bus.publishBatch(topic, Array.from({ length: 20 }, (_, i) => msg(String(i), `k${i}`)));
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    await bus.subscribe(
      topic,
      async (d) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await elapse(3);
        order.push(Number(text(d.message)));
        inFlight--;
      },
      { group: 'g', maxInFlight: 8, ordering: 'partition' },
    );
    await waitFor(() => order.length === 20, 20_000, '20 messages');
    expect(peak).toBe(1);
    expect(order).toEqual([...Array(20).keys()]);
  });

  it('a rejected message is redelivered with a growing deliveryCount; it blocks its key but not others', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('redeliver');
    await bus.publishBatch(topic, [msg('a1', 'a'), msg('b1', 'b'), msg('a2', 'a')]);
    const log: string[] = [];
    let fails = 2;
    await bus.subscribe(
      topic,
      async (d) => {
        const v = text(d.message);
        log.push(`${v}#${d.deliveryCount}`);
        if (v === 'a1' && fails-- > 0) throw new RedeliverAfter(50);
      },
      { group: 'g', maxInFlight: 8, redeliveryDelayMs: 10_000 },
    );
    await waitFor(() => log.includes('a2#1'), 20_000, 'a2');
    expect(log.filter((x) => x.startsWith('a'))).toEqual(['a1#1', 'a1#2', 'a1#3', 'a2#1']);
    expect(log).toContain('b1#1');
  });

  it('a handler that neither settles nor calls working() within ackTimeoutMs is presumed dead; its late settle is ignored', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('acktimeout');
    await bus.publish(topic, msg('x', 'k'));
    const counts: number[] = [];
    let releaseFirst!: () => void;
    await bus.subscribe(
      topic,
      async (d) => {
        counts.push(d.deliveryCount);
        if (d.deliveryCount === 1) await new Promise<void>((r) => (releaseFirst = r)); // hangs
      },
      { group: 'g', ackTimeoutMs: 300 },
    );
    await waitFor(() => counts.length === 2, 20_000, 'the redelivery');
    releaseFirst(); // the stale run settles late: must not count or throw
    expect(counts).toEqual([1, 2]);
  });

  it('no offset is skipped after a failure between successes (restart shows what comes back)', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('noskip');
    await bus.publishBatch(topic, Array.from({ length: 10 }, (_, i) => msg(String(i), `k${i}`)));
    const ok = new Set<number>();
    const sub = await bus.subscribe(
      topic,
      async (d) => {
        const v = Number(text(d.message));
        if (v === 4) throw new Error('boom'); // always fails in this run
        ok.add(v);
      },
      { group: 'g', maxInFlight: 10, ordering: 'none', redeliveryDelayMs: 200 },
    );
    await waitFor(() => ok.size === 9, 20_000, 'the 9 successes');
    // Give the committer time to commit whatever it (wrongly) might.
    await elapse(500);
    await sub.close();

    // A new member of the same group resumes from the committed offset (4): 4 comes back;
    // 5..9, settled behind it, are named in the commit metadata and skipped (U1); 0..3 do not.
    const again: number[] = [];
    const bus2 = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    await bus2.subscribe(topic, async (d) => void again.push(Number(text(d.message))), { group: 'g', ordering: 'none' });
    await waitFor(() => again.length >= 1, 20_000, 'redelivered tail');
    await elapse(300);
    expect(again.sort((a, b) => a - b)).toEqual([4]);
  });

  it('a DeliveryTerminated rejection settles like an ack: never redelivered, committed', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('term');
    await bus.publishBatch(topic, Array.from({ length: 5 }, (_, i) => msg(String(i), `k${i}`)));
    const calls: number[] = [];
    const sub = await bus.subscribe(
      topic,
      async (d) => {
        const v = Number(text(d.message));
        calls.push(v);
        if (v === 2) throw new DeliveryTerminated('moved to the DLQ');
      },
      { group: 'g', ordering: 'none', redeliveryDelayMs: 50 },
    );
    await waitFor(() => calls.length >= 5, 20_000, 'five deliveries');
    await elapse(300);
    expect(calls.sort()).toEqual([0, 1, 2, 3, 4]); // 2 was not redelivered
    await sub.close();
    // Everything was committed: a new member of the group gets nothing.
    const again: number[] = [];
    const bus2 = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    await bus2.subscribe(topic, async (d) => void again.push(Number(text(d.message))), { group: 'g' });
    await bus.publish(topic, msg('5', 'k5'));
    await waitFor(() => again.length === 1, 20_000, 'the new message');
    expect(again).toEqual([5]);
  });

  it('a long RedeliverAfter goes through the delay topics and frees the partition', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 }, inMemoryRedeliveryMaxMs: 100 });
    const topic = topicName('longretry');
    await bus.publishBatch(topic, [msg('slow', 'k'), msg('next', 'k2')]);
    const log: { v: string; at: number; count: number }[] = [];
    let first = true;
    const t0 = Date.now();
    await bus.subscribe(
      topic,
      async (d) => {
        const v = text(d.message);
        log.push({ v, at: Date.now() - t0, count: d.deliveryCount });
        if (v === 'slow' && first) {
          first = false;
          throw new RedeliverAfter(1_500);
        }
      },
      { group: 'g' },
    );
    await waitFor(() => log.filter((x) => x.v === 'slow').length === 2, 20_000, 'slow redelivered');
    const [a, b] = log.filter((x) => x.v === 'slow');
    expect(b!.at - a!.at).toBeGreaterThanOrEqual(1_500 - 5);
    expect(b!.count).toBe(1); // a republished copy: a new message for the bus
  });

  it('poison: garbage headers and value reach the handler with invalidHeaders; the partition moves on; a republish carries the lossy text', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('poison');
    const dlq = `${topic}.dlq`;
    await bus.publish(topic, msg('warmup')); // creates the topic
    const badBytes = Buffer.from([0xc3, 0x28, 0xff, 0x00]);
    await plainSend({
      topic,
      messages: [
        { key: Buffer.from([0xff, 0xfe]), value: badBytes, headers: { job_id: badBytes, job_name: 'x', dup: [Buffer.from('1'), Buffer.from('2')] } },
        { key: null, value: null },
        { key: 'k', value: 'after' },
      ],
    });
    const got: Delivery[] = [];
    let dlqWritten = false;
    await bus.subscribe(
      topic,
      async (d) => {
        got.push(d);
        if (d.message.invalidHeaders) {
          await bus.publish(dlq, d.message); // what the bridge does
          dlqWritten = true;
        }
      },
      { group: 'g' },
    );
    await waitFor(() => got.some((d) => text(d.message) === 'after') && dlqWritten, 20_000, 'the message after the poison');
    const poison = got.find((d) => d.message.invalidHeaders)!;
    expect(poison.message.invalidHeaders).toEqual(['job_id']);
    expect(poison.message.headers.dup).toBe('2');
    expect(Buffer.from(poison.message.value).equals(badBytes)).toBe(true);
    expect(got.some((d) => d.message.value.length === 0 && d.message.key === undefined)).toBe(true);

    // The DLQ copy carries the lossy decoding (the bridge marks such a message as poison).
    const consumer = plainKafka().consumer({ groupId: `check-${dlq}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    let header: Buffer | undefined;
    await consumer.run({
      eachMessage: async ({ message }) => {
        header = message.headers?.job_id as Buffer;
      },
    });
    await waitFor(() => header !== undefined, 20_000, 'dlq copy');
    await consumer.disconnect();
    expect(header!.toString('utf8')).toBe(badBytes.toString('utf8'));
  });

  it('interop: a record from a plain kafkajs producer with only the seed header set is delivered and decodes as a job', async () => {
    const bus = await makeBus();
    const topic = topicName('interop');
    await bus.publish(topic, msg('warmup', 'w', { skip: '1' }));
    await plainSend({
      topic,
      messages: [
        {
          key: 'send-email:42',
          value: '{"to":"a@b.c"}',
          headers: {
            job_id: '42',
            job_name: 'send-email',
            job_queue: topic,
            job_run_at: '2026-01-02T03:04:05.123456789Z',
            job_attempt: '0',
            job_max_attempts: '5',
          },
        },
      ],
    });
    const got: Delivery[] = [];
    await bus.subscribe(topic, async (d) => void (d.message.headers.skip ? undefined : got.push(d)), { group: 'g' });
    await waitFor(() => got.length === 1, 20_000, 'interop message');
    const job = decodeJob(got[0]!.message, topic);
    expect(job.id).toBe('42');
    expect(job.name).toBe('send-email');
    expect(job.maxAttempts).toBe(5);
  });
});
