/**
 * An idempotent producer whose send failed after the broker stored it must not lose the next
 * send. A private Kafka (test/chaos/infra/own-kafka.ts) behind a TCP proxy that forwards
 * requests and discards the broker's replies: the send is stored, its caller gets a retryable
 * error. Both drivers then numbered the next records from the failed send's sequence, and the
 * broker took them for duplicates: acknowledged, never stored (the chaos suite's broker-kill
 * scenario lost one enqueue batch this way). With a different record count every later send
 * failed (OUT_OF_ORDER_SEQUENCE_NUMBER). Each send after the failure is checked here against
 * what the topic holds.
 *
 * One request at a time must not serialise the callers: publishes made while a request is in
 * flight go out merged as the next one. The proxy counts the produce requests a burst of
 * concurrent publishes took, and the topic must hold every record in each key's order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJobbusError } from '../../src/index.js';
import type { KafkaEventBus } from '../../src/eventbus/kafka/index.js';
import type { Message } from '../../src/eventbus/types.js';
import type { OwnKafka } from '../chaos/infra/own-kafka.js';
import type { TcpProxy } from '../chaos/infra/tcp-proxy.js';
import { uniqueName } from '../setup/env.js';
import { testDriver } from './driver.js';
import { startProxiedKafka, type ProxiedKafka } from './proxied-kafka.js';
import { API_KEYS, requestCounter } from './request-counter.js';

let kafka: OwnKafka;
let proxy: TcpProxy;
let bus: KafkaEventBus;
let rig: ProxiedKafka | undefined;
const requests = requestCounter();

beforeAll(async () => {
  // A send whose replies never come fails in seconds, not minutes.
  rig = await startProxiedKafka({ topics: { partitions: 1 }, requestTimeoutMs: 1_500, connectionTimeoutMs: 1_500 }, requests.observe);
  ({ kafka, proxy, bus } = rig);
}, 120_000);

afterAll(() => rig?.close());

/** `n` messages whose values name them `${tag}-${i}`. */
function batch(tag: string, n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({ value: new TextEncoder().encode(`${tag}-${i}`), headers: {} }));
}

/** Every value the topic holds, in order. */
async function stored(topic: string): Promise<string[]> {
  const msgs = await bus.browse(topic, 10_000);
  return msgs.map((m) => new TextDecoder().decode(m.value)).sort();
}

const names = (tag: string, n: number): string[] => batch(tag, n).map((m) => new TextDecoder().decode(m.value));

describe(`Kafka idempotent producer after a lost reply (${testDriver()})`, () => {
  it('stores every send that resolves after a send failed with its records stored', async () => {
    const topic = uniqueName('idem-lost-reply');
    await kafka.createTopic(topic, 1);
    await bus.publishBatch(topic, batch('warm', 3));

    proxy.dropReplies();
    const failed = await bus.publishBatch(topic, batch('lost-reply', 10)).then(
      () => undefined,
      (err: unknown) => err,
    );
    proxy.heal();
    expect(isJobbusError(failed) && failed.retryable).toBe(true);

    // Same record count as the failed send (the broker's duplicate check), then other counts.
    await bus.publishBatch(topic, batch('same-count', 10));
    await bus.publishBatch(topic, batch('other-count', 7));
    await bus.publishBatch(topic, batch('after', 4));

    const values = await stored(topic);
    for (const [tag, n] of [['warm', 3], ['same-count', 10], ['other-count', 7], ['after', 4]] as const) {
      expect(values, tag).toEqual(expect.arrayContaining(names(tag, n)));
    }
    // The failed send was stored by the broker (its caller was told it may retry).
    expect(values).toEqual(expect.arrayContaining(names('lost-reply', 10)));
  }, 180_000);

  it('merges publishes made while a request is in flight into the next request, keeping each key in order', async () => {
    const topics = [uniqueName('idem-merge-a'), uniqueName('idem-merge-b')];
    for (const t of topics) await kafka.createTopic(t, 4);
    for (const t of topics) await bus.publishBatch(t, batch('warm', 1));
    const enc = new TextEncoder();
    const before = requests.count(API_KEYS.produce);
    const n = 300;
    // Two topics, ten keys each: a merged request spans topics and partitions.
    const topicOf = (i: number): string => topics[i % 2]!;
    const keyOf = (i: number): string => `k${i % 20}`;
    await Promise.all(Array.from({ length: n }, (_, i) => bus.publish(topicOf(i), { key: keyOf(i), value: enc.encode(`${keyOf(i)}:${i}`), headers: {} })));
    const took = requests.count(API_KEYS.produce) - before;
    // One request per publish without the merge; here the first goes alone and the rest wait together.
    expect(took, `${n} concurrent publishes took ${took} produce requests`).toBeLessThanOrEqual(10);

    const offset = (position: string): number => Number(position.slice(position.lastIndexOf('@') + 1));
    for (const topic of topics) {
      const stored = (await bus.browse(topic, 10_000)).filter((m) => m.key !== undefined);
      expect(stored).toHaveLength(n / 2);
      for (const key of new Set(stored.map((m) => m.key))) {
        const seq = stored
          .filter((m) => m.key === key)
          .sort((a, b) => offset(a.position) - offset(b.position))
          .map((m) => Number(new TextDecoder().decode(m.value).split(':')[1]));
        expect(seq, `${topic} key ${key}`).toEqual([...seq].sort((a, b) => a - b));
        expect(seq).toHaveLength(n / 20);
      }
    }
  }, 120_000);
});
