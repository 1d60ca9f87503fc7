import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/advanced.js';
import { createMemoryEventBus } from '../../src/eventbus/memory/index.js';
import { waitFor } from '../support/wait.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collect garbage until `ref` is gone (or give up after a few rounds). */
async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return ref.deref() === undefined;
}

const small = (i: number): Message => ({ value: new Uint8Array([i & 255]), headers: {} });

/** Publishes one large message, then enough small ones that retainPerTopic 0 trims the log past it. */
async function publishAndTrim(bus: ReturnType<typeof createMemoryEventBus>, topic: string): Promise<WeakRef<Uint8Array>> {
  // Created in a nested scope so that no local variable keeps it alive afterwards.
  const ref = await (async () => {
    const big = new Uint8Array(4 * 1024 * 1024);
    await bus.publish(topic, { value: big, headers: {} });
    return new WeakRef(big);
  })();
  for (let i = 0; i < 1_100; i++) await bus.publish(topic, small(i));
  return ref;
}

describe('memory event bus: memory is released', () => {
  it('R1: a settled delivery is not kept alive for the rest of its ack timeout', async () => {
    const bus = createMemoryEventBus({ retainPerTopic: 0 });
    let settled = 0;
    await bus.subscribe('r1', async () => void settled++, { group: 'g', ackTimeoutMs: 30_000, maxInFlight: 64 });
    const ref = await publishAndTrim(bus, 'r1');
    await waitFor(() => settled === 1_101, 'every delivery settled');
    expect(await collected(ref)).toBe(true);
    await bus.close();
  });

  it('R2: a group whose members all left does not queue every new message', async () => {
    const bus = createMemoryEventBus({ retainPerTopic: 0 });
    const first = await bus.subscribe('r2', async () => undefined, { group: 'g' });
    await first.close();
    const ref = await publishAndTrim(bus, 'r2');
    expect(await collected(ref)).toBe(true);
    await bus.close();
  });

  it('R2: a group that comes back resumes with the messages the log still retains, none twice', async () => {
    const bus = createMemoryEventBus();
    const seen: number[] = [];
    const first = await bus.subscribe('r2b', async (d) => void seen.push(d.message.value[0]!), { group: 'g' });
    await bus.publish('r2b', small(1));
    await waitFor(() => seen.length === 1, 'first delivery');
    await first.close();
    for (let i = 2; i <= 5; i++) await bus.publish('r2b', small(i));
    expect(bus.pendingCount('r2b', 'g')).toBe(4);
    await bus.subscribe('r2b', async (d) => void seen.push(d.message.value[0]!), { group: 'g' });
    await waitFor(() => seen.length === 5, 'the messages published while away');
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    await bus.close();
  });
});
