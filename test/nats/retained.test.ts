/**
 * Retained topics against the real server: a topic keeps what was consumed because it was
 * first published with `retain` (or named by `retainTopic`), never because of its name; the
 * stream remembers it for every later process.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { ConflictError } from '../../src/errors.js';
import type { Message } from '../../src/eventbus/types.js';
import type { NatsEventBus } from '../../src/eventbus/nats/index.js';
import { waitFor } from '../support/wait.js';
import { natsScope, uniqueName } from './helpers.js';

const scope = natsScope('rtn');
afterAll(() => scope.cleanup());

const te = new TextEncoder();
const td = new TextDecoder();

function msgs(prefix: string, n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({ value: te.encode(`${prefix}${i}`), headers: {} }));
}

async function streamInfo(bus: NatsEventBus, topic: string) {
  const jsm = await jetstreamManager(bus.connection);
  return jsm.streams.info(bus.streamOf(topic));
}

async function stored(bus: NatsEventBus, topic: string): Promise<number> {
  return (await streamInfo(bus, topic)).state.messages;
}

async function ackFloor(bus: NatsEventBus, topic: string, group: string): Promise<number> {
  const jsm = await jetstreamManager(bus.connection);
  return (await jsm.consumers.info(bus.streamOf(topic), group)).ack_floor.stream_seq;
}

/** Subscribe `group`, wait until it acked `n` messages; returns the bodies it got. */
async function consumeAll(bus: NatsEventBus, topic: string, group: string, n: number): Promise<string[]> {
  const got: string[] = [];
  await bus.subscribe(topic, async (d) => void got.push(td.decode(d.message.value)), { group });
  await waitFor(async () => got.length >= n && (await ackFloor(bus, topic, group)) >= n, `group ${group} acked ${n}`);
  return got;
}

describe('NATS retained topics', () => {
  it('a topic named like a DLQ but published without retain is an ordinary queue: consumed means cleaned up', async () => {
    const topic = `${uniqueName('plain')}.dlq`;
    const bus = await scope.bus({ cleanupIntervalMs: 600_000 });
    await bus.publishBatch(topic, msgs('p', 5));
    await consumeAll(bus, topic, 'g', 5);
    expect(await bus.cleanup()).toBe(5);
    expect(await stored(bus, topic)).toBe(0);
  });

  it('a topic first published with retain keeps what a group acked through cleanup, also for a second bus instance', async () => {
    const topic = uniqueName('kept');
    const first = await scope.bus({ cleanupIntervalMs: 600_000 });
    await first.publish(topic, msgs('k', 1)[0]!, { retain: true });
    await first.publishBatch(topic, msgs('k', 5).slice(1), { retain: true });
    expect((await streamInfo(first, topic)).config.description).toBe(`jobbus retained topic ${topic}`);
    await consumeAll(first, topic, 'alerts', 5);
    expect(await first.cleanup()).toBe(0);
    expect(await stored(first, topic)).toBe(5);
    await first.close();

    // Fresh process state: nothing cached, no retain flag; the stream says it is retained.
    const second = await scope.bus({ cleanupIntervalMs: 600_000 });
    await second.publishBatch(topic, msgs('later', 2));
    expect(await consumeAll(second, topic, 'audit', 7)).toHaveLength(7);
    expect(await second.cleanup()).toBe(0);
    expect(await stored(second, topic)).toBe(7);
    expect((await second.browse(topic, 10)).map((m) => td.decode(m.value))).toEqual(['later1', 'later0', 'k4', 'k3', 'k2', 'k1', 'k0']);
  });

  it("a stream a subscriber created first is marked retained by the first retained publish, and another process's janitor stops cleaning it", async () => {
    const topic = `${uniqueName('marked')}.dlq`;
    const subscriberSide = await scope.bus({ cleanupIntervalMs: 600_000 });
    const got: string[] = [];
    await subscriberSide.subscribe(topic, async (d) => void got.push(td.decode(d.message.value)), { group: 'alerts' });
    expect((await streamInfo(subscriberSide, topic)).config.description).toBe(`jobbus topic ${topic}`);
    const publisherSide = await scope.bus({ cleanupIntervalMs: 600_000 });
    await publisherSide.publishBatch(topic, msgs('d', 4), { retain: true });
    expect((await streamInfo(publisherSide, topic)).config.description).toBe(`jobbus retained topic ${topic}`);
    await waitFor(async () => got.length === 4 && (await ackFloor(subscriberSide, topic, 'alerts')) === 4, 'alerts acked the four');
    // The subscriber's bus has been cleaning this stream since it subscribed.
    expect(await subscriberSide.cleanup()).toBe(0);
    expect(await stored(subscriberSide, topic)).toBe(4);
  });

  it('browsing a topic that does not exist creates no stream (its first publish decides its retention)', async () => {
    const topic = uniqueName('unseen');
    const bus = await scope.bus();
    expect(await bus.browse(topic, 10)).toEqual([]);
    expect(await bus.remove(topic, () => true)).toBe(0);
    expect(await streamInfo(bus, topic).then(() => true, () => false)).toBe(false);
    await bus.publish(topic, msgs('r', 1)[0]!, { retain: true });
    expect((await streamInfo(bus, topic)).config.description).toBe(`jobbus retained topic ${topic}`);
  });

  it("with queueRetention 'workqueue' a retained topic is a Limits stream; a WorkQueue stream cannot be retained later", async () => {
    const bus = await scope.bus({ queueRetention: 'workqueue' });
    const kept = uniqueName('wq-kept');
    await bus.publish(kept, msgs('w', 1)[0]!, { retain: true });
    expect((await streamInfo(bus, kept)).config.retention).toBe('limits');
    const consumed = uniqueName('wq-consumed');
    await bus.publish(consumed, msgs('c', 1)[0]!);
    expect((await streamInfo(bus, consumed)).config.retention).toBe('workqueue');
    await expect(bus.publish(consumed, msgs('c', 1)[0]!, { retain: true })).rejects.toBeInstanceOf(ConflictError);
  });
});
