/**
 * Relay faults on the real Kafka: a resume that throws inside a wake-up timer (S2), a
 * far-future due time (R5), records the broker refuses for good and forward batches near the
 * byte limit (S5). Faults are injected through the client port only.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RELAY_ERROR_HEADER, type GroupConsumerPort, type ProduceRecord } from '../../src/eventbus/kafka/index.js';
import { approxSize, SEND_CHUNK_BYTES } from '../../src/eventbus/kafka/sender.js';
import { cleanup, elapse, makeBus, msg, plainSend, text, topicName, waitFor } from './helpers.js';
import { createSmallTopic } from './topic-config.js';
import { wrappedClient } from './wrapped-client.js';

afterEach(cleanup);

const isRelay = (groupId: string): boolean => groupId.startsWith('jobbus.relay.');

describe('kafka relay faults', () => {
  it('S2: a relay wake-up whose resume throws does not reach the process; the delayed message still arrives', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    let failResume = true;
    let resumeThrows = 0;
    try {
      const client = await wrappedClient({
        consumer: (settings, inner): GroupConsumerPort =>
          !isRelay(settings.groupId)
            ? inner
            : {
                ...inner,
                resume(topic, partitions) {
                  // What kafkajs does between a consumer crash and its restart.
                  if (failResume && partitions) {
                    resumeThrows++;
                    throw new Error('Consumer group was not initialized, consumer#run must be called first');
                  }
                  inner.resume(topic, partitions);
                },
              },
      });
      const bus = await makeBus({ client, relayBackoffMs: 200 });
      const topic = topicName('s2');
      const got: { at: number; value: string }[] = [];
      await bus.subscribe(topic, async (d) => void got.push({ at: Date.now(), value: text(d.message) }), { group: 'g' });
      const due = Date.now() + 1_200; // 500 ms tier: waits, the wake-up timer resumes
      await bus.publish(topic, msg('delayed', 'k'), { deliverAt: new Date(due) });
      await waitFor(() => resumeThrows >= 1, 20_000, 'a wake-up timer whose resume throws');
      expect(uncaught).toEqual([]); // an exception in a timer callback is reported synchronously
      await waitFor(() => resumeThrows >= 2, 20_000, 'the relay to try the resume again');
      expect(got).toEqual([]);
      failResume = false; // the consumer recovered
      await waitFor(() => got.length === 1, 20_000, 'the delayed message');
      expect(got[0]!.value).toBe('delayed');
      expect(got[0]!.at).toBeGreaterThanOrEqual(due);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('R5: a record whose release is 10 years ahead does not spin the relay (pause/resume counted over a second)', async () => {
    const calls: string[] = [];
    const client = await wrappedClient({
      consumer: (settings, inner): GroupConsumerPort =>
        !isRelay(settings.groupId)
          ? inner
          : {
              ...inner,
              pause(topic, partitions) {
                if (partitions) calls.push('pause');
                inner.pause(topic, partitions);
              },
              resume(topic, partitions) {
                if (partitions) calls.push('resume');
                inner.resume(topic, partitions);
              },
            },
    });
    const bus = await makeBus({ client, topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('r5');
    const tierTopic = `${topic}.delay.500ms`;
    // A record stamped 10 years ahead (a skewed producer clock): the broker must accept it.
    await createSmallTopic(tierTopic, 1_048_588, { 'message.timestamp.after.max.ms': '9223372036854775807' });
    const farAhead = Date.now() + 10 * 365 * 24 * 3_600_000;
    await plainSend({
      topic: tierTopic,
      messages: [{ key: 'k', value: 'far', timestamp: String(farAhead), headers: { jobbus_due_at: String(farAhead), jobbus_target: topic } }],
    });
    await bus.subscribe(topic, async () => undefined, { group: 'g' });
    await waitFor(() => calls.includes('pause'), 20_000, 'the relay to pause at the far-future head');
    const before = calls.length;
    await elapse(1_000); // the measurement window itself
    expect(calls.length - before).toBeLessThanOrEqual(2); // setTimeout overflow: one pause/resume per ms
  });

  it('S5: a delayed record too large for the queue topic goes to the DLQ topic; the records around it are delivered', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('s5');
    await createSmallTopic(topic, 2_000); // the queue refuses large records; tiers and DLQ do not
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(text(d.message)), { group: 'g' });
    const due = new Date(Date.now() + 700);
    await bus.publishBatch(
      topic,
      [msg('before', 'k', { job_id: '1' }), { key: 'k', value: new Uint8Array(5_000).fill(65), headers: { job_id: 'big' } }, msg('after', 'k', { job_id: '3' })],
      { deliverAt: due },
    );
    await waitFor(() => got.length === 2, 20_000, 'the two records around the refused one');
    expect(got).toEqual(['before', 'after']);
    await waitFor(() => bus.relayCounters().deadLettered === 1, 20_000, 'the dead-letter copy');
    const dlq = await bus.browse(`${topic}.dlq`, 10);
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers.job_id).toBe('big');
    expect(dlq[0]!.value.byteLength).toBe(5_000);
    expect(dlq[0]!.headers[RELAY_ERROR_HEADER]).toMatch(/MESSAGE_TOO_LARGE/);
    expect(Object.keys(dlq[0]!.headers).filter((h) => h === 'jobbus_due_at' || h === 'jobbus_target')).toEqual([]);
    expect(bus.relayCounters().skipped).toBe(0);
  });

  it('S5: when the DLQ topic refuses the record too, the relay keeps it by default (backs off, never skips)', async () => {
    const errors: { obj: object; msg: string }[] = [];
    const logger = { warn: () => undefined, error: (obj: object, m: string) => void errors.push({ obj, msg: m }) };
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 }, relayBackoffMs: 50, logger });
    const topic = topicName('s5keep');
    await createSmallTopic(topic, 2_000);
    await createSmallTopic(`${topic}.dlq`, 2_000);
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(text(d.message)), { group: 'g' });
    await bus.publishBatch(topic, [{ key: 'k', value: new Uint8Array(5_000), headers: {} }, msg('after', 'k')], { deliverAt: new Date(Date.now() + 700) });
    await waitFor(() => errors.filter((e) => /kept, retrying/.test(e.msg)).length >= 6, 20_000, 'six retries of the refused record');
    expect(bus.relayCounters()).toEqual({ deadLettered: 0, skipped: 0 });
    expect(got).toEqual([]); // the record behind it waits: nothing skipped, nothing lost
  });

  it('S5: with relaySkipRefusedAfter, a record the DLQ topic refuses too is skipped after the attempts (logged, counted)', async () => {
    const errors: { obj: object; msg: string }[] = [];
    const logger = { warn: () => undefined, error: (obj: object, m: string) => void errors.push({ obj, msg: m }) };
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 }, relayBackoffMs: 50, relaySkipRefusedAfter: 5, logger });
    const topic = topicName('s5skip');
    await createSmallTopic(topic, 2_000);
    await createSmallTopic(`${topic}.dlq`, 2_000);
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(text(d.message)), { group: 'g' });
    await bus.publishBatch(topic, [{ key: 'k', value: new Uint8Array(5_000), headers: {} }, msg('after', 'k')], { deliverAt: new Date(Date.now() + 700) });
    await waitFor(() => got.includes('after'), 20_000, 'the record after the refused one');
    expect(bus.relayCounters()).toEqual({ deadLettered: 0, skipped: 1 });
    const skipped = errors.filter((e) => /SKIPPED/.test(e.msg));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]!.obj).toMatchObject({ delayTopic: `${topic}.delay.500ms`, partition: 0, offset: 0, attempts: 5 });
  });

  it('S5: relay forwards never exceed the chunk byte limit, so a topic whose max.message.bytes is just above it takes them all', async () => {
    const sent: { topic: string; bytes: number }[] = [];
    const client = await wrappedClient({
      beforeSend: (t: string, records: readonly ProduceRecord[]) => void sent.push({ topic: t, bytes: records.reduce((n, r) => n + approxSize(r), 0) }),
    });
    const bus = await makeBus({ client, topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('s5chunk');
    // 560 000 bytes: above 512 KiB (a chunk), below 512 KiB + one 100 kB record (the old overshoot).
    await createSmallTopic(topic, 560_000);
    const got: string[] = [];
    await bus.subscribe(topic, async (d) => void got.push(d.message.headers.i!), { group: 'g' });
    const records = Array.from({ length: 12 }, (_, i) => ({ key: 'k', value: new Uint8Array(100_000), headers: { i: String(i) } }));
    await bus.publishBatch(topic, records, { deliverAt: new Date(Date.now() + 700) });
    await waitFor(() => got.length === 12, 20_000, 'all 12 large records');
    expect(got).toEqual(records.map((r) => r.headers.i));
    const toQueue = sent.filter((s) => s.topic === topic);
    expect(toQueue.length).toBeGreaterThan(1);
    expect(Math.max(...toQueue.map((s) => s.bytes))).toBeLessThanOrEqual(SEND_CHUNK_BYTES);
    expect(bus.relayCounters().deadLettered).toBe(0);
  });

  it('S5: transient forward failures are retried with growing back-off, never dead-lettered', async () => {
    let armed = false;
    const failedAt: number[] = [];
    let queue = '';
    const client = await wrappedClient({
      beforeSend: (t: string) => {
        if (armed && t === queue && failedAt.length < 3) {
          failedAt.push(Date.now());
          throw new Error('Connection error: connect ECONNREFUSED'); // what a broker outage looks like
        }
      },
    });
    const bus = await makeBus({ client, relayBackoffMs: 300, topics: { partitions: 1, replicationFactor: 1 } });
    queue = topicName('s5transient');
    const got: string[] = [];
    await bus.subscribe(queue, async (d) => void got.push(text(d.message)), { group: 'g' });
    armed = true; // from now on the first three sends to the queue fail (only the relay sends there)
    await bus.publish(queue, msg('delayed', 'k'), { deliverAt: new Date(Date.now() + 700) });
    await waitFor(() => got.includes('delayed'), 20_000, 'the delayed message after the failures');
    expect(failedAt).toHaveLength(3);
    expect(failedAt[2]! - failedAt[1]!).toBeGreaterThan(failedAt[1]! - failedAt[0]!); // 300 ms, then 600 ms
    expect(bus.relayCounters()).toEqual({ deadLettered: 0, skipped: 0 });
  });
});
