/** Small pieces behind README sentences: the pending-settle memo's bound, the memory timer clamp. */
import { describe, expect, it } from 'vitest';
import { ConflictError, createJob } from '../../src/index.js';
import { backToLeased, enterLeased, enterSettled, enterSettling, type Held } from '../../src/runtime-backend/held.js';
import { createPendingSettles } from '../../src/runtime-backend/pending-settles.js';
import { TimerQueue } from '../../src/eventbus/memory/timer-queue.js';
import { settleRetryDelayMs } from '../../src/jobs/settle-retry.js';
import { elapse } from '../support/wait.js';
import { bufferedHeld } from './held-fixture.js';

describe('pending settles', () => {
  it('remembers a failed settle per delivered message (id, attempt, runAt) and counts its failures', () => {
    const p = createPendingSettles();
    const job = createJob({ name: 'n', queue: 'q', payload: 'x' });
    expect(p.failed(job, { kind: 'dead-letter', reason: 'r' })).toBe(1);
    expect(p.failed(job, { kind: 'dead-letter', reason: 'r' })).toBe(2);
    expect(p.get({ ...job, attempt: 1 })).toBeUndefined(); // its retry copy is another message
    p.delete(job);
    expect(p.size).toBe(0);
  });

  it('is bounded: the oldest entry is forgotten first (default 10 000)', () => {
    const p = createPendingSettles(2);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => createJob({ id, name: 'n', queue: 'q', payload: 'x' }));
    for (const j of [a!, b!, c!]) p.failed(j, { kind: 'dead-letter', reason: 'r' });
    expect(p.size).toBe(2);
    expect(p.get(a!)).toBeUndefined();
    expect(p.get(c!)).toBeDefined();
  });

  it('settle retries back off from 1 s to 5 min', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 10, 40].map((n) => settleRetryDelayMs(n, mid))).toEqual([1_000, 2_000, 4_000, 300_000, 300_000]);
  });
});

describe('held job transitions', () => {
  const heldJob = (): Held => bufferedHeld();


  it('moves buffered -> leased -> settling -> leased -> settling -> settled, once', () => {
    const h = heldJob();
    enterLeased(h, 't1', 1_000);
    expect([h.state, h.token, h.expiresAt]).toEqual(['leased', 't1', 1_000]);
    enterSettling(h);
    backToLeased(h, 2_000);
    expect([h.state, h.expiresAt]).toEqual(['leased', 2_000]);
    enterSettling(h);
    expect(enterSettled(h)).toBe(true);
    expect(enterSettled(h)).toBe(false); // a second settle (an expiry racing an ack) changes nothing
    expect(h.state).toBe('settled');
  });

  it('refuses a transition from the wrong state', () => {
    const h = heldJob();
    expect(() => backToLeased(h, 1)).toThrow(ConflictError);
    enterSettled(h);
    expect(() => enterLeased(h, 't', 1)).toThrow(/cannot become leased: it is settled/);
    expect(() => enterSettling(h)).toThrow(ConflictError);
  });
});

describe('memory bus timers', () => {
  it('R5: a due time beyond the 2^31-1 ms timer limit does not fire at once', async () => {
    const q = new TimerQueue();
    let fired = 0;
    q.add(Date.now() + 2 ** 33, () => void fired++);
    await elapse(50);
    expect(fired).toBe(0);
    q.clear();
  });
});
