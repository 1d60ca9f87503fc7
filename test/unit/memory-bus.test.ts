import { describe, expect, it } from 'vitest';
import { ClosedError, InvalidArgumentError } from '../../src/index.js';
import { DeliveryTerminated, RedeliverAfter, type Delivery, type Message } from '../../src/advanced.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { deferred, elapse, waitFor } from '../support/wait.js';

const msg = (text: string, key?: string): Message => ({
  ...(key !== undefined && { key }),
  value: new TextEncoder().encode(text),
  headers: { t: text },
});
const textOf = (d: Delivery): string => new TextDecoder().decode(d.message.value);

function timeoutsActive(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('memory event bus', () => {
  it('delivers every message to every group and once within a group', async () => {
    const bus = createMemoryEventBus();
    const a: string[] = [];
    const b: string[] = [];
    const c: string[] = [];
    await bus.subscribe('t', async (d) => void a.push(textOf(d)), { group: 'g1' });
    await bus.subscribe('t', async (d) => void b.push(textOf(d)), { group: 'g1' });
    await bus.subscribe('t', async (d) => void c.push(textOf(d)), { group: 'g2' });
    for (let i = 0; i < 20; i++) await bus.publish('t', msg(String(i)));
    await waitFor(() => a.length + b.length === 20 && c.length === 20, 'deliveries');
    expect(a.length).toBeGreaterThan(0); // competing members share the load
    expect(b.length).toBeGreaterThan(0);
    expect(new Set([...a, ...b]).size).toBe(20);
    await bus.close();
  });

  it('lets a group created later start from the oldest retained message', async () => {
    const bus = createMemoryEventBus();
    await bus.publish('t', msg('before'));
    const got = deferred<string>();
    await bus.subscribe('t', async (d) => got.resolve(textOf(d)), { group: 'late' });
    expect(await got.promise).toBe('before');
    await bus.close();
  });

  it('never runs two messages of one key at once and keeps their order, while other keys proceed', async () => {
    const bus = createMemoryEventBus();
    const order: string[] = [];
    const gate = deferred();
    await bus.subscribe(
      't',
      async (d) => {
        if (textOf(d) === 'a1') await gate.promise;
        order.push(textOf(d));
      },
      { group: 'g', maxInFlight: 10 },
    );
    await bus.publishBatch('t', [msg('a1', 'a'), msg('a2', 'a'), msg('b1', 'b'), msg('b2', 'b')]);
    await waitFor(() => order.length === 2, 'key b to finish while a1 is held');
    expect(order).toEqual(['b1', 'b2']);
    gate.resolve();
    await waitFor(() => order.length === 4, 'key a');
    expect(order).toEqual(['b1', 'b2', 'a1', 'a2']);
    await bus.close();
  });

  it('redelivers a rejected message after the requested delay, to the same key slot first', async () => {
    const bus = createMemoryEventBus();
    const seen: { text: string; count: number; at: number }[] = [];
    await bus.subscribe(
      't',
      async (d) => {
        seen.push({ text: textOf(d), count: d.deliveryCount, at: Date.now() });
        if (textOf(d) === 'x1' && d.deliveryCount === 1) throw new RedeliverAfter(100);
      },
      { group: 'g' },
    );
    await bus.publishBatch('t', [msg('x1', 'x'), msg('x2', 'x')]);
    await waitFor(() => seen.length === 3, 'three deliveries');
    expect(seen.map((s) => `${s.text}#${s.count}`)).toEqual(['x1#1', 'x1#2', 'x2#1']);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(95);
    await bus.close();
  });

  it('settles a DeliveryTerminated rejection like an ack (never redelivered)', async () => {
    const bus = createMemoryEventBus();
    let calls = 0;
    await bus.subscribe(
      't',
      async () => {
        calls++;
        throw new DeliveryTerminated('moved to the DLQ');
      },
      { group: 'g', redeliveryDelayMs: 10 },
    );
    await bus.publish('t', msg('m'));
    await waitFor(() => bus.pendingCount('t', 'g') === 0 && calls === 1, 'the settle');
    await elapse(100);
    expect(calls).toBe(1);
    await bus.close();
  });

  it('never delivers a delayed message early', async () => {
    const bus = createMemoryEventBus();
    const deliverAt = new Date(Date.now() + 300);
    const got = deferred<number>();
    await bus.subscribe('t', async () => got.resolve(Date.now()), { group: 'g' });
    await bus.publish('t', msg('later'), { deliverAt });
    expect(bus.delayedCount('t')).toBe(1);
    expect(await got.promise).toBeGreaterThanOrEqual(deliverAt.getTime());
    expect(bus.delayedCount('t')).toBe(0);
    await bus.close();
  });

  it('redelivers when the handler neither settles nor calls working() within the ack timeout', async () => {
    const bus = createMemoryEventBus();
    const deliveries: number[] = [];
    const first = deferred();
    await bus.subscribe(
      't',
      async (d) => {
        deliveries.push(d.deliveryCount);
        if (d.deliveryCount === 1) await first.promise; // stuck
      },
      { group: 'g', ackTimeoutMs: 150 },
    );
    await bus.publish('t', msg('m'));
    await waitFor(() => deliveries.length === 2, 'redelivery after ack timeout');
    expect(deliveries).toEqual([1, 2]);
    first.resolve(); // a late settle of the first delivery is ignored
    await elapse(50);
    expect(bus.pendingCount('t', 'g')).toBe(0);
    await bus.close();
  });

  it('does not redeliver while the handler keeps calling working()', async () => {
    const bus = createMemoryEventBus();
    let deliveries = 0;
    const done = deferred();
    await bus.subscribe(
      't',
      async (d) => {
        deliveries++;
        const until = Date.now() + 500;
        while (Date.now() < until) {
          d.working();
          await elapse(40);
        }
        done.resolve();
      },
      { group: 'g', ackTimeoutMs: 150 },
    );
    await bus.publish('t', msg('m'));
    await done.promise;
    expect(deliveries).toBe(1);
    await bus.close();
  });

  it('bounds the deliveries in flight per subscriber', async () => {
    const bus = createMemoryEventBus();
    let running = 0;
    let peak = 0;
    let done = 0;
    await bus.subscribe(
      't',
      async () => {
        running++;
        peak = Math.max(peak, running);
        await elapse(10);
        running--;
        done++;
      },
      { group: 'g', maxInFlight: 3, ordering: 'none' },
    );
    await bus.publishBatch('t', Array.from({ length: 30 }, (_, i) => msg(String(i))));
    await waitFor(() => done === 30, 'all messages');
    expect(peak).toBe(3);
    await bus.close();
  });

  it('hands a closing subscriber\'s unsettled messages to the rest of its group', async () => {
    const bus = createMemoryEventBus();
    const held = deferred();
    const sub = await bus.subscribe('t', async () => held.promise, { group: 'g' });
    await bus.publish('t', msg('m'));
    await waitFor(() => bus.pendingCount('t', 'g') === 1, 'delivery to the first member');
    const got = deferred<number>();
    await bus.subscribe('t', async (d) => got.resolve(d.deliveryCount), { group: 'g' });
    await sub.close();
    expect(await got.promise).toBe(2);
    await bus.close();
  });

  it('browses newest first and removes selected messages', async () => {
    const bus = createMemoryEventBus();
    await bus.publishBatch('dlq', [msg('1'), msg('2'), msg('3')]);
    expect((await bus.browse('dlq', 2)).map((m) => m.headers.t)).toEqual(['3', '2']);
    expect(await bus.remove('dlq', (m) => m.headers.t === '2')).toBe(1);
    expect((await bus.browse('dlq', 10)).map((m) => m.headers.t)).toEqual(['3', '1']);
    expect(await bus.browse('nothing', 10)).toEqual([]);
    await bus.close();
  });

  it('refuses bad arguments and use after close with typed errors', async () => {
    const bus = createMemoryEventBus();
    await expect(bus.publish('', msg('x'))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(bus.subscribe('t', async () => undefined, { group: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(bus.subscribe('t', async () => undefined, { group: 'g', maxInFlight: 0 })).rejects.toThrow(/maxInFlight/);
    // The shared subscribe-option checks (eventbus/delivery.ts): every option, one error class.
    await expect(bus.subscribe('t', async () => undefined, { group: 'g', ackTimeoutMs: 0 })).rejects.toThrow(/ackTimeoutMs/);
    const badOrdering = { group: 'g', ordering: 'random' as unknown as 'key' };
    await expect(bus.subscribe('t', async () => undefined, badOrdering)).rejects.toBeInstanceOf(InvalidArgumentError);
    await bus.close();
    await expect(bus.publish('t', msg('x'))).rejects.toBeInstanceOf(ClosedError);
    await expect(bus.healthCheck()).rejects.toBeInstanceOf(ClosedError);
  });

  it('leaves no timer running after close', async () => {
    const before = timeoutsActive();
    const bus = createMemoryEventBus();
    await bus.subscribe('t', async () => new Promise(() => undefined), { group: 'g', ackTimeoutMs: 60_000 });
    await bus.publish('t', msg('held'));
    await bus.publish('t', msg('later'), { deliverAt: new Date(Date.now() + 60_000) });
    await waitFor(() => bus.pendingCount('t', 'g') === 1, 'the held delivery');
    expect(timeoutsActive()).toBeGreaterThan(before);
    await bus.close();
    expect(timeoutsActive()).toBe(before);
  });
});
