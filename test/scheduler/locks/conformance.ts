/**
 * One conformance suite for every scheduler LockProvider: memory (unit project, on a
 * controllable clock) and Redis, PostgreSQL, NATS KV on the machine's services (integration).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ClosedError, ConflictError, JobbusError } from '../../../src/errors.js';
import type { LockProvider } from '../../../src/scheduler/types.js';
import { elapse, waitFor } from '../../support/wait.js';

/** How a provider under test is made and how time passes for it. */
export interface ConformanceSetup {
  /** A provider on the shared store (each call a new instance, like another process). */
  make(): LockProvider | Promise<LockProvider>;
  /** A second instance on `first`'s store; default `make()` (memory: `first` itself, its store is the object). */
  sibling?(first: LockProvider): LockProvider;
  /** A provider pointed at an address where nothing answers (none for memory: it has no address). */
  makeUnreachable?(): LockProvider;
  /** Let `ms` of the provider's time pass: a fake clock advances, a real one is waited for. */
  passTime?(ms: number): Promise<void>;
  /** Lock TTL the timing cases use, ms (short; real stores expire on their own clock). */
  ttlMs: number;
}

/** Registers the suite `<name> lock provider`. */
export function lockProviderConformance(name: string, setup: ConformanceSetup): void {
  const passTime = setup.passTime ?? elapse;
  const ttl = setup.ttlMs;
  const opened: LockProvider[] = [];
  const make = async (): Promise<LockProvider> => {
    const p = await setup.make();
    opened.push(p);
    return p;
  };
  const pair = async (): Promise<[LockProvider, LockProvider]> => {
    const a = await make();
    return [a, setup.sibling ? setup.sibling(a) : await make()];
  };
  const key = (what: string) => `conf-${what}@${new Date().toISOString()}#${randomUUID().slice(0, 8)}`;
  // Free again once the store expired it (real stores on their own clock: poll, bounded).
  const waitFree = async (p: LockProvider, k: string) =>
    setup.passTime ? (await passTime(ttl + 1), await p.acquire(k, ttl)) : waitFor(() => p.acquire(k, ttl), `${k} to expire`, ttl + 4_000, 50);

  describe(`${name} lock provider`, () => {
    afterAll(async () => {
      await Promise.all(opened.map((p) => p.close()));
    });

    it('gives a lock to exactly one of 10 concurrent acquirers, across instances', async () => {
      const [a, b] = await pair();
      const k = key('race');
      const got = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).acquire(k, 30_000)));
      const winners = got.filter((h) => h !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]!.key).toBe(k);
      expect(winners[0]!.token.length).toBeGreaterThanOrEqual(16);
      expect(winners[0]!.expiresAt.getTime()).toBeGreaterThan(Date.now() - 1_000);
      expect(await a.acquire(k, 30_000)).toBeUndefined();
    });

    it('frees a lock when its TTL passes', async () => {
      const [a, b] = await pair();
      const k = key('expiry');
      const first = await a.acquire(k, ttl);
      expect(first).toBeDefined();
      expect(await b.acquire(k, ttl)).toBeUndefined();
      const second = await waitFree(b, k);
      expect(second?.token).not.toBe(first!.token);
    });

    it('renew extends a held lock past its first expiry', async () => {
      const [a, b] = await pair();
      const k = key('renew');
      const held = (await a.acquire(k, ttl))!;
      await passTime(ttl / 2);
      const renewed = await a.renew(held, ttl);
      expect(renewed.key).toBe(k);
      expect(renewed.expiresAt.getTime()).toBeGreaterThan(held.expiresAt.getTime());
      await passTime(ttl * 0.7); // past the first expiry, before the renewed one
      expect(await b.acquire(k, ttl)).toBeUndefined();
      await a.renew(renewed, ttl);
      await a.release(renewed);
      expect(await b.acquire(k, ttl)).toBeDefined();
    });

    it('renew fails with a ConflictError once the lock was lost (taken or released)', async () => {
      const [a, b] = await pair();
      const taken = key('lost');
      const held = (await a.acquire(taken, ttl))!;
      const thief = await waitFree(b, taken);
      expect(thief).toBeDefined();
      await expect(a.renew(held, ttl)).rejects.toBeInstanceOf(ConflictError);
      const released = key('released');
      const mine = (await a.acquire(released, 30_000))!;
      await a.release(mine);
      await expect(a.renew(mine, 30_000)).rejects.toBeInstanceOf(ConflictError);
    });

    it("release with a stale token leaves the new owner's lock", async () => {
      const [a, b] = await pair();
      const k = key('stale');
      const old = (await a.acquire(k, ttl))!;
      const owner = (await waitFree(b, k))!;
      await a.release(old);
      expect(await a.acquire(k, ttl)).toBeUndefined();
      const renewed = await b.renew(owner, ttl);
      await b.release(renewed);
      expect(await a.acquire(k, ttl)).toBeDefined();
    });

    it('keeps the latest last-fired tick under concurrent writers, never moving back', async () => {
      const [a, b] = await pair();
      const task = `conf-task-${randomUUID().slice(0, 8)}`;
      expect(await a.lastFired(task)).toBeUndefined();
      const base = Date.UTC(2026, 0, 1);
      const ticks = Array.from({ length: 20 }, (_, i) => new Date(base + ((i * 7) % 20) * 1_000));
      await Promise.all(ticks.map((t, i) => (i % 2 ? a : b).recordFired(task, t)));
      const latest = new Date(base + 19_000);
      expect(await b.lastFired(task)).toEqual(latest);
      await a.recordFired(task, new Date(base));
      expect(await a.lastFired(task)).toEqual(latest);
      await b.recordFired(task, new Date(base + 20_000));
      expect(await a.lastFired(task)).toEqual(new Date(base + 20_000));
    });

    it('health check passes, and fails with a typed error on a bad address within a few seconds', async () => {
      await (await make()).healthCheck();
      if (!setup.makeUnreachable) return;
      const bad = setup.makeUnreachable();
      opened.push(bad);
      const start = Date.now();
      const err = await bad.healthCheck().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(JobbusError);
      expect((err as JobbusError).retryable).toBe(true);
      expect(Date.now() - start).toBeLessThan(7_000);
    });

    it('close() ends the provider: later calls fail with a ClosedError, a second close is harmless', async () => {
      const p = await make();
      await p.healthCheck();
      await p.close();
      await p.close();
      await expect(p.acquire(key('closed'), 1_000)).rejects.toBeInstanceOf(ClosedError);
      await expect(p.lastFired('closed')).rejects.toBeInstanceOf(ClosedError);
    });
  });
}
