/**
 * An idempotent producer whose send failed after the broker stored it must not lose the next
 * send. A private Kafka (test/chaos/infra/own-kafka.ts) behind a TCP proxy that forwards
 * requests and discards the broker's replies: the send is stored, its caller gets a retryable
 * error. Both drivers then numbered the next records from the failed send's sequence, and the
 * broker took them for duplicates: acknowledged, never stored (the chaos suite's broker-kill
 * scenario lost one enqueue batch this way). With a different record count every later send
 * failed (OUT_OF_ORDER_SEQUENCE_NUMBER). Each send after the failure is checked here against
 * what the topic holds.
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

let kafka: OwnKafka;
let proxy: TcpProxy;
let bus: KafkaEventBus;
let rig: ProxiedKafka | undefined;

beforeAll(async () => {
  // A send whose replies never come fails in seconds, not minutes.
  rig = await startProxiedKafka({ topics: { partitions: 1 }, requestTimeoutMs: 1_500, connectionTimeoutMs: 1_500 });
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
});
