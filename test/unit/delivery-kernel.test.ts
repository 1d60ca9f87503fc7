import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors.js';
import { resolveSubscribeOptions, settleOf, settleOfRejection, SUBSCRIBE_DEFAULTS } from '../../src/eventbus/delivery.js';
import { DeliveryTerminated, RedeliverAfter, type Delivery } from '../../src/eventbus/types.js';

const delivery: Delivery = { topic: 't', message: { value: new Uint8Array(0), headers: {} }, deliveryCount: 1, position: 't#1', working: () => undefined };

describe('delivery kernel: settle mapping', () => {
  it('maps a resolved handler to ack and each rejection to its settle', async () => {
    expect(await settleOf(async () => undefined, delivery, 50)).toEqual({ kind: 'ack' });
    expect(await settleOf(async () => Promise.reject(new DeliveryTerminated()), delivery, 50)).toEqual({ kind: 'terminate' });
    expect(await settleOf(async () => Promise.reject(new RedeliverAfter(1_234)), delivery, 50)).toEqual({ kind: 'redeliver', delayMs: 1_234 });
    expect(await settleOf(async () => Promise.reject(new Error('boom')), delivery, 50)).toEqual({ kind: 'redeliver', delayMs: 50 });
    expect(settleOfRejection('not even an error', 7)).toEqual({ kind: 'redeliver', delayMs: 7 });
  });

  it('counts a synchronous throw as a rejection and never rejects itself', async () => {
    const throwsSync = (): Promise<void> => {
      throw new RedeliverAfter(10);
    };
    await expect(settleOf(throwsSync, delivery, 50)).resolves.toEqual({ kind: 'redeliver', delayMs: 10 });
  });
});

describe('delivery kernel: subscribe options', () => {
  it('fills in the shared defaults, overridable per bus', () => {
    expect(resolveSubscribeOptions({ group: 'g' })).toEqual({ group: 'g', ...SUBSCRIBE_DEFAULTS });
    expect(resolveSubscribeOptions({ group: 'g' }, { ackTimeoutMs: 5_000 }).ackTimeoutMs).toBe(5_000);
    expect(resolveSubscribeOptions({ group: 'g', ackTimeoutMs: 9 }, { ackTimeoutMs: 5_000 }).ackTimeoutMs).toBe(9);
    expect(resolveSubscribeOptions({ group: 'g', redeliveryDelayMs: 0, ordering: 'none' })).toMatchObject({ redeliveryDelayMs: 0, ordering: 'none' });
  });

  it('refuses bad options with an InvalidArgumentError naming the option', () => {
    const bad: [object | undefined, RegExp][] = [
      [undefined, /consumer group/],
      [{ group: ' ' }, /consumer group/],
      [{ group: 'g', maxInFlight: 0 }, /maxInFlight/],
      [{ group: 'g', maxInFlight: 1.5 }, /maxInFlight/],
      [{ group: 'g', ackTimeoutMs: 0 }, /ackTimeoutMs/],
      [{ group: 'g', redeliveryDelayMs: -1 }, /redeliveryDelayMs/],
      [{ group: 'g', ordering: 'random' }, /ordering/],
    ];
    for (const [o, message] of bad) {
      const attempt = (): unknown => resolveSubscribeOptions(o as Parameters<typeof resolveSubscribeOptions>[0]);
      expect(attempt).toThrow(InvalidArgumentError);
      expect(attempt).toThrow(message);
    }
  });

  it('applies a bus group-name pattern', () => {
    const kafkaNames = /^[a-zA-Z0-9._-]{1,249}$/;
    expect(resolveSubscribeOptions({ group: 'workers.v2' }, {}, kafkaNames).group).toBe('workers.v2');
    expect(() => resolveSubscribeOptions({ group: 'a group' }, {}, kafkaNames)).toThrow(/consumer group matching/);
  });
});
