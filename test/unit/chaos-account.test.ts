/**
 * The chaos harness's account (test/chaos/harness/account.ts): what counts as completed and lost.
 * The chaos scenarios' verdicts rest on it, so its rules are tested without brokers.
 */
import { describe, expect, it } from 'vitest';
import { account } from '../chaos/harness/account.js';
import type { Execution } from '../chaos/harness/ledger.js';

const job = (id: string) => ({ id, runAt: 1_000, expect: 'complete' as const });
const exec = (jobId: string, pid: number, o: Partial<Execution> = {}): Execution => ({
  jobId,
  attempt: 1,
  pid,
  startedAt: 1_010,
  runAt: 1_000,
  finishedAt: 1_030,
  ackedAt: null,
  outcome: null,
  returned: true,
  ...o,
});

describe('chaos account', () => {
  it('counts an acked execution as completed', () => {
    const a = account({ enqueued: [job('a')], executions: [exec('a', 1, { ackedAt: 1_031 })], deadLetterIds: new Set() });
    expect({ completed: a.completed, lost: a.lost, completedAtKill: a.completedAtKill }).toEqual({ completed: 1, lost: 0, completedAtKill: 0 });
  });

  it('counts a handler that returned in a SIGKILLed process as completed (its ack record cut off), apart', () => {
    const a = account({ enqueued: [job('a')], executions: [exec('a', 7)], deadLetterIds: new Set(), killedPids: new Set([7]) });
    expect({ completed: a.completed, lost: a.lost, completedAtKill: a.completedAtKill }).toEqual({ completed: 1, lost: 0, completedAtKill: 1 });
  });

  it('counts a returned, unacked execution in a process that was not killed as lost, and says so', () => {
    const a = account({ enqueued: [job('a')], executions: [exec('a', 7)], deadLetterIds: new Set(), killedPids: new Set([8]) });
    expect(a.lost).toBe(1);
    expect(a.samples.lost[0]).toBe('a (ms after runAt: attempt 1 pid 7 start 10 end 30 returned, unacked)');
  });

  it('counts a handler that threw in a killed process as not completed', () => {
    const a = account({ enqueued: [job('a')], executions: [exec('a', 7, { returned: false })], deadLetterIds: new Set(), killedPids: new Set([7]) });
    expect(a.lost).toBe(1);
  });

  it('says when a lost job never started', () => {
    const a = account({ enqueued: [job('a')], executions: [], deadLetterIds: new Set() });
    expect(a.samples.lost).toEqual(['a (ms after runAt: never started)']);
  });
});
