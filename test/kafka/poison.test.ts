/**
 * Poison messages on the real Kafka: header bytes that are not UTF-8 are named in
 * `invalidHeaders`; a poison message too large for its DLQ does not stall its partition.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createJob, type Worker } from '../../src/index.js';
import { createEventBusBridge, createRuntimeBackend, createWorker } from '../../src/advanced.js';
import { RedeliverAfter, type Delivery } from '../../src/eventbus/types.js';
import { cleanup, makeBus, msg, plainSend, text, topicName, waitFor } from './helpers.js';
import { createSmallTopic } from './topic-config.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  await cleanup();
});

describe('kafka poison', () => {
  it('poison: a header value with invalid UTF-8 bytes is delivered with invalidHeaders naming it (strict decoding)', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const topic = topicName('badutf8');
    await bus.publish(topic, msg('warmup'));
    await plainSend({
      topic,
      messages: [
        { key: 'k', value: 'bad', headers: { job_id: Buffer.from([0x6a, 0xc3, 0x28]), ok: 'fine \uFFFD' } },
        { key: 'k', value: 'good', headers: { job_id: 'j2' } },
      ],
    });
    const got: Delivery[] = [];
    await bus.subscribe(topic, async (d) => void got.push(d), { group: 'g' });
    await waitFor(() => got.length === 3, 20_000, 'three deliveries');
    const bad = got.find((d) => text(d.message) === 'bad')!;
    expect(bad.message.invalidHeaders).toEqual(['job_id']);
    expect(bad.message.headers.job_id).toBe('j\uFFFD(');
    expect(bad.message.headers.ok).toBe('fine \uFFFD'); // a real U+FFFD is valid UTF-8
    expect(got.find((d) => text(d.message) === 'good')!.message.invalidHeaders).toBeUndefined();
  });

  it('poison: a poison message redelivered through the delay topics stays poison (invalidHeaders survive the republish)', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 }, inMemoryRedeliveryMaxMs: 100 });
    const topic = topicName('poisonlater');
    await bus.publish(topic, msg('warmup'));
    await plainSend({ topic, messages: [{ key: 'k', value: 'bad', headers: { job_id: Buffer.from([0xff]) } }] });
    const seen: Delivery[] = [];
    await bus.subscribe(
      topic,
      async (d) => {
        if (text(d.message) !== 'bad') return;
        seen.push(d);
        // Longer than inMemoryRedeliveryMaxMs: republished with deliverAt through the delay path.
        if (seen.length === 1) throw new RedeliverAfter(600);
      },
      { group: 'g' },
    );
    await waitFor(() => seen.length === 2, 20_000, 'the redelivered poison message');
    expect(seen[1]!.message.invalidHeaders).toEqual(['job_id']);
    expect(Object.keys(seen[1]!.message.headers)).toEqual(['job_id']); // the marker header is not a user header
  });

  it('poison: a poison message too large for its DLQ topic does not stall its partition; the refusal is logged and counted', async () => {
    const bus = await makeBus({ topics: { partitions: 1, replicationFactor: 1 } });
    const queue = topicName('poisonbig');
    await createSmallTopic(`${queue}.dlq`, 1_000); // the DLQ takes nothing of the poison's size
    const logged: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(String((JSON.parse(line) as { msg?: string }).msg)) });
    const bridge = createEventBusBridge(bus, { logger, ownsBus: false });
    const backend = createRuntimeBackend(bridge, { group: 'workers', maxInFlight: 16, ackTimeoutMs: 30_000, logger });
    stops.push(() => backend.close());
    await backend.enqueue(createJob({ name: 'ok', queue, payload: 'first' })); // creates the queue topic
    // 3 kB value, a job_id that is not UTF-8: poison, and too large for the DLQ even as a minimal copy.
    await plainSend({ topic: queue, messages: [{ key: 'p', value: Buffer.alloc(3_000, 1), headers: { job_id: Buffer.from([0xff, 0xfe]), job_name: 'ok' } }] });
    const ran: string[] = [];
    const worker: Worker = createWorker(backend, { queues: [queue], reserveTimeoutMs: 100, stopTimeoutMs: 2_000 }, { logger });
    worker.register('ok', async (job) => void ran.push(new TextDecoder().decode(job.payload)));
    await worker.start();
    stops.push(() => worker.stop());
    for (const p of ['after-1', 'after-2', 'after-3']) await backend.enqueue(createJob({ name: 'ok', queue, payload: p }));
    await waitFor(() => ran.length >= 4, 20_000, 'the jobs behind the poison message');
    expect([...ran].sort()).toEqual(['after-1', 'after-2', 'after-3', 'first']);
    await waitFor(() => bridge.counters().deadLetterRefused >= 1, 20_000, 'the refused dead-letter copy to be counted');
    expect(logged.some((m) => /poison message could NOT be moved to the DLQ/.test(m))).toBe(true);
    expect(logged.some((m) => /poison message moved to the DLQ/.test(m))).toBe(false); // never claimed before it happened
  });
});
