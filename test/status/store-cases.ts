/**
 * One case list for every job-status store: memory (unit project, on a controllable clock) and
 * Redis and NATS KV on the machine's services (integration).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnavailableError } from '../../src/errors.js';
import type { JobState, JobStatus, JobStatusStore } from '../../src/status/types.js';
import { elapse, waitFor } from '../support/wait.js';

/** How a store under test is made and how time passes for it. */
export interface StoreSetup {
  /** A fresh, empty store (its own namespace) whose records live `ttlMs`. */
  make(ttlMs: number): JobStatusStore | Promise<JobStatusStore>;
  /** Another instance on `first`'s data, like another process (memory: `first` itself). */
  sibling(first: JobStatusStore): JobStatusStore | Promise<JobStatusStore>;
  /** A store pointed at an address where nothing answers (none for memory). */
  makeUnreachable?(): JobStatusStore | Promise<JobStatusStore>;
  /** Let `ms` of the store's time pass: a fake clock advances; default: really wait. */
  passTime?(ms: number): Promise<void>;
  /** TTL the expiry cases use, ms (real stores expire on their own clock). */
  readonly ttlMs: number;
}

let clockMs = Date.now();
const at = (): Date => new Date((clockMs += 1));

/** A record of job `jobId`; later calls get later `updatedAt` values. */
export function status(jobId: string, state: JobState, attempt = 0, extra: Partial<JobStatus> = {}): JobStatus {
  return { jobId, name: 'send-mail', queue: 'mail', state, attempt, updatedAt: at(), ...extra };
}

/** Registers the suite `<name> status store`. */
export function statusStoreCases(name: string, setup: StoreSetup): void {
  const passTime = setup.passTime ?? elapse;
  const opened: JobStatusStore[] = [];
  const make = async (ttlMs = 60_000): Promise<JobStatusStore> => {
    const s = await setup.make(ttlMs);
    opened.push(s);
    return s;
  };
  const id = (what: string): string => `${what}-${randomUUID()}`;

  describe(`${name} status store`, () => {
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close?.()));
    });

    it('returns what was recorded (every field, dates as dates) and nothing for an unknown job', async () => {
      const store = await make();
      const jobId = id('round');
      const written = status(jobId, 'retrying', 2, { enqueuedAt: new Date('2026-01-02T03:04:05.678Z'), error: 'SMTP 451: try later' });
      expect(await store.record(written)).toBe(true);
      expect(await store.get(jobId)).toEqual(written);
      expect(await store.get(id('unknown'))).toBeUndefined();
      // Ids with characters a KV key or a glob would not take.
      const odd = `odd id/with.dots*and?[x] ü ${randomUUID()}`;
      await store.record(status(odd, 'pending'));
      expect((await store.get(odd))?.jobId).toBe(odd);
    });

    it('moves forward through a job’s life: pending, processing, retrying, processing of the next attempt, completed', async () => {
      const store = await make();
      const jobId = id('life');
      for (const [state, attempt] of [['pending', 0], ['processing', 0], ['retrying', 0], ['processing', 1], ['completed', 1]] as const) {
        expect(await store.record(status(jobId, state, attempt))).toBe(true);
        expect(await store.get(jobId)).toMatchObject({ state, attempt });
      }
    });

    it('never moves a record back from a final state, nor to a lower attempt, nor to pending within an attempt', async () => {
      const store = await make();
      for (const final of ['completed', 'failed', 'dead'] as const) {
        const jobId = id(final);
        await store.record(status(jobId, 'processing', 1));
        expect(await store.record(status(jobId, final, 1, { error: final === 'completed' ? undefined : 'why' }))).toBe(true);
        for (const later of [status(jobId, 'processing', 2), status(jobId, 'pending', 0), status(jobId, 'retrying', 5), status(jobId, 'dead', 3), status(jobId, 'completed', 9)]) {
          expect(await store.record(later)).toBe(false);
        }
        expect(await store.get(jobId)).toMatchObject({ state: final, attempt: 1 });
      }
      const lower = id('lower');
      await store.record(status(lower, 'processing', 3));
      expect(await store.record(status(lower, 'retrying', 2))).toBe(false);
      expect(await store.record(status(lower, 'processing', 2))).toBe(false);
      // A producer's late "pending" loses against the worker's "processing" of the same attempt.
      const late = id('late');
      const pending = status(late, 'pending');
      await store.record(status(late, 'processing'));
      expect(await store.record(pending)).toBe(false);
      expect((await store.get(late))?.state).toBe('processing');
      // A final state wins over any non-final one, whatever its attempt.
      const fin = id('fin');
      await store.record(status(fin, 'processing', 4));
      expect(await store.record(status(fin, 'dead', 2, { error: 'poison' }))).toBe(true);
      expect(await store.get(fin)).toMatchObject({ state: 'dead', attempt: 2, error: 'poison' });
    });

    it('starts a new life on a replay from the DLQ: a later replay replaces even a final state, an earlier one never does', async () => {
      const store = await make();
      const jobId = id('replayed');
      await store.record(status(jobId, 'dead', 4, { error: 'gave up' }));
      const first = new Date(clockMs + 1_000);
      expect(await store.record(status(jobId, 'processing', 0, { replayedAt: first }))).toBe(true);
      expect(await store.get(jobId)).toMatchObject({ state: 'processing', attempt: 0, replayedAt: first });
      // A late update of the life before the replay changes nothing.
      expect(await store.record(status(jobId, 'dead', 4, { error: 'late' }))).toBe(false);
      expect(await store.record(status(jobId, 'completed', 0, { replayedAt: first }))).toBe(true);
      expect(await store.record(status(jobId, 'retrying', 1, { replayedAt: new Date(first.getTime() - 1) }))).toBe(false);
      const second = new Date(first.getTime() + 1_000);
      expect(await store.record(status(jobId, 'processing', 0, { replayedAt: second }))).toBe(true);
      expect((await store.get(jobId))?.state).toBe('processing');
    });

    it('within one attempt, processing and retrying follow updatedAt (a job put off runs again at the same attempt)', async () => {
      const store = await make();
      const jobId = id('putoff');
      const stale = status(jobId, 'processing');
      expect(await store.record(status(jobId, 'processing'))).toBe(true);
      expect(await store.record(status(jobId, 'retrying', 0, { error: 'rate limit' }))).toBe(true);
      expect(await store.record(stale)).toBe(false);
      expect(await store.get(jobId)).toMatchObject({ state: 'retrying', error: 'rate limit' });
      expect(await store.record(status(jobId, 'processing'))).toBe(true);
      expect((await store.get(jobId))?.state).toBe('processing');
    });

    it('ends in the furthest state when two instances write one job’s updates concurrently in any order', async () => {
      const a = await make();
      const b = await setup.sibling(a);
      for (let round = 0; round < 3; round++) {
        const jobId = id(`race${round}`);
        const updates: JobStatus[] = [status(jobId, 'pending')];
        for (let n = 0; n < 4; n++) updates.push(status(jobId, 'processing', n), status(jobId, 'retrying', n, { error: `attempt ${n}` }));
        updates.push(status(jobId, 'processing', 4), status(jobId, 'completed', 4));
        const shuffled = [...updates].sort(() => Math.random() - 0.5);
        await Promise.all(shuffled.map((u, i) => (i % 2 ? a : b).record(u)));
        expect(await a.get(jobId)).toMatchObject({ state: 'completed', attempt: 4 });
        expect(await b.get(jobId)).toMatchObject({ state: 'completed', attempt: 4 });
      }
    });

    it('counts the live records by state, job name and queue', async () => {
      const store = await make();
      const put = (state: JobState, name: string, queue: string) => store.record(status(id(state), state, 0, { name, queue }));
      await put('pending', 'send-mail', 'mail');
      await put('pending', 'send-mail', 'mail');
      await put('processing', 'send-mail', 'mail');
      await put('completed', 'resize', 'images');
      await put('dead', 'resize', 'images');
      await put('failed', 'resize', 'mail');
      await put('retrying', 'resize', 'images');
      const snap = await store.snapshot();
      expect(snap.total).toBe(7);
      expect(snap.byState).toEqual({ pending: 2, processing: 1, retrying: 1, completed: 1, failed: 1, dead: 1 });
      expect(snap.byName).toEqual({
        'send-mail': { pending: 2, processing: 1, retrying: 0, completed: 0, failed: 0, dead: 0 },
        resize: { pending: 0, processing: 0, retrying: 1, completed: 1, failed: 1, dead: 1 },
      });
      expect(snap.byQueue).toEqual({
        mail: { pending: 2, processing: 1, retrying: 0, completed: 0, failed: 1, dead: 0 },
        images: { pending: 0, processing: 0, retrying: 1, completed: 1, failed: 0, dead: 1 },
      });
      // One record per job: later states replace earlier ones in the counts.
      const moved = id('moved');
      await store.record(status(moved, 'pending', 0, { name: 'x', queue: 'q' }));
      await store.record(status(moved, 'completed', 0, { name: 'x', queue: 'q' }));
      const after = await store.snapshot();
      expect(after.total).toBe(8);
      expect(after.byName['x']).toEqual({ pending: 0, processing: 0, retrying: 0, completed: 1, failed: 0, dead: 0 });
      expect((await (await make()).snapshot()).total).toBe(0);
    });

    it('expires a record ttlMs after its last accepted write (gone from get and the snapshot); a write restarts the TTL', async () => {
      const ttl = setup.ttlMs;
      const store = await make(ttl);
      const old = id('old');
      const kept = id('kept');
      await store.record(status(old, 'completed'));
      await store.record(status(kept, 'pending'));
      await passTime(Math.floor(ttl * 0.6));
      expect(await store.record(status(kept, 'processing'))).toBe(true);
      await passTime(Math.floor(ttl * 0.6));
      // `old` is past its TTL (a real store may take a moment to remove it); `kept` was written 0.6 TTL ago.
      await waitFor(async () => (await store.get(old)) === undefined, 'the old record to expire', setup.passTime ? 0 : 5_000, 50);
      expect((await store.get(kept))?.state).toBe('processing');
      expect((await store.snapshot()).byState).toMatchObject({ completed: 0, processing: 1 });
      await passTime(ttl);
      await waitFor(async () => (await store.snapshot()).total === 0, 'every record to expire', setup.passTime ? 0 : 5_000, 50);
      expect(await store.get(kept)).toBeUndefined();
    });

    it('refuses a malformed record or job id with an InvalidArgumentError', async () => {
      const store = await make();
      await expect(store.record(status('', 'pending'))).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.record(status(id('bad'), 'lost' as JobState))).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.record(status(id('bad'), 'pending', -1))).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.get('')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    if (setup.makeUnreachable) {
      const unreachable = setup.makeUnreachable;
      it('fails with an UnavailableError, within its timeout, when the store cannot be reached', async () => {
        const store = await unreachable();
        opened.push(store);
        const started = Date.now();
        await expect(store.record(status(id('down'), 'pending'))).rejects.toBeInstanceOf(UnavailableError);
        await expect(store.get(id('down'))).rejects.toBeInstanceOf(UnavailableError);
        await expect(store.snapshot()).rejects.toBeInstanceOf(UnavailableError);
        expect(Date.now() - started).toBeLessThan(15_000);
      });
    }
  });
}
