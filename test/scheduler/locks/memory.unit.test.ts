import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { createMemoryLockProvider } from '../../../src/scheduler/locks/memory.js';
import { lockProviderConformance } from './conformance.js';

// A fake clock: expiry cases advance it instead of waiting.
let clock = Date.now();
const now = () => clock;

lockProviderConformance('memory', {
  make: () => createMemoryLockProvider({ now }),
  // One process, one store: the second "instance" is the same object.
  sibling: (first) => first,
  passTime: async (ms) => {
    clock += ms;
  },
  ttlMs: 1_000,
});

describe('memory lock provider arguments', () => {
  it('rejects a bad TTL, key or tick with an InvalidArgumentError', async () => {
    const p = createMemoryLockProvider({ now });
    await expect(p.acquire('k', 0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(p.acquire('k', 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(p.acquire('', 1_000)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(p.recordFired('t', new Date(Number.NaN))).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('measures expiry on the injected clock: held up to expiresAt, free at it', async () => {
    const p = createMemoryLockProvider({ now });
    const held = (await p.acquire('edge', 1_000))!;
    expect(held.expiresAt.getTime()).toBe(clock + 1_000);
    clock += 999;
    expect(await p.acquire('edge', 1_000)).toBeUndefined();
    clock += 1;
    expect(await p.acquire('edge', 1_000)).toBeDefined();
  });
});
