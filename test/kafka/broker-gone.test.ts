/**
 * A consumer whose broker is gone for longer than its session reports itself down, and comes
 * back once the broker does. A private Kafka (test/chaos/infra/own-kafka.ts) behind a TCP proxy
 * that cuts every connection: each driver's consumer must report the failure through the port's
 * crash callback (the subscription's health then names it) instead of retrying unseen, and the
 * member must be consuming again after the cut (re-created, or restarted by the client).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaEventBus } from '../../src/eventbus/kafka/index.js';
import type { KafkaSubscription } from '../../src/eventbus/kafka/subscription.js';
import type { Delivery } from '../../src/eventbus/types.js';
import type { OwnKafka } from '../chaos/infra/own-kafka.js';
import type { TcpProxy } from '../chaos/infra/tcp-proxy.js';
import { uniqueName } from '../setup/env.js';
import { testDriver } from './driver.js';
import { msg, text, waitFor } from './helpers.js';
import { startProxiedKafka, type ProxiedKafka } from './proxied-kafka.js';

let kafka: OwnKafka;
let proxy: TcpProxy;
let bus: KafkaEventBus;
let rig: ProxiedKafka | undefined;
const SESSION_MS = 6_000;

beforeAll(async () => {
  rig = await startProxiedKafka({
    topics: { partitions: 1 },
    consumer: { sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 10_000, maxWaitTimeMs: 100 },
    requestTimeoutMs: 1_500,
    connectionTimeoutMs: 1_500,
    drainTimeoutMs: 1_000,
  });
  ({ kafka, proxy, bus } = rig);
}, 120_000);

afterAll(() => rig?.close(), 60_000);

describe(`Kafka consumer while the broker is gone (${testDriver()})`, () => {
  it('reports the member down once the broker has been unreachable for longer than the session, and consumes again after', async () => {
    const topic = uniqueName('broker-gone');
    await kafka.createTopic(topic, 1);
    const seen: string[] = [];
    const sub = (await bus.subscribe(topic, async (d: Delivery) => void seen.push(text(d.message)), { group: 'g' })) as KafkaSubscription;
    await bus.publish(topic, msg('before'));
    await waitFor(() => seen.includes('before'), 30_000, 'the message before the cut');
    expect(sub.health()).toBeUndefined();

    proxy.cut();
    const cutAt = Date.now();
    // Unreachable for a session and more: the member must say so (not keep retrying unseen).
    await waitFor(() => sub.health() !== undefined, SESSION_MS + 30_000, 'the subscription to report its member down');
    const down = sub.health()!;
    expect(down.code).toBe('UNAVAILABLE');
    expect(down.message).toContain(topic);
    console.info(`[kafka broker-gone test] member reported down ${Date.now() - cutAt} ms after the cut: ${down.message}`);
    // Keep the broker away a little longer: re-creation attempts fail meanwhile.
    await new Promise((r) => setTimeout(r, 2_000));

    proxy.heal();
    await waitFor(() => sub.health() === undefined, 90_000, 'the member to be back in its group');
    await bus.publish(topic, msg('after'));
    await waitFor(() => seen.includes('after'), 30_000, 'a message after the broker came back');
  }, 180_000);
});
