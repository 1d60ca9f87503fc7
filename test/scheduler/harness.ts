/**
 * A controllable clock for scheduler tests (the scheduler's `now` and `setTimer`), and an
 * enqueue target that records what it was given. Time moves only through `advance`.
 */
import { createJobbus, type Jobbus } from '../../src/jobbus.js';
import type { Job } from '../../src/jobs/types.js';
import type { JobInput } from '../../src/jobs/job.js';
import type { SchedulerTarget } from '../../src/scheduler/types.js';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Let every promise chain started so far run (the memory bus and locks need no wall time). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A clock that stands still until told to move; timers fire in order as it passes them. */
export class FakeTime {
  private readonly timers = new Set<Timer>();
  private seq = 0;
  constructor(public current: number) {}

  readonly now = (): number => this.current;

  readonly setTimer = (fn: () => void, ms: number): (() => void) => {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  };

  /** Timers waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Move `ms` forward, firing the timers due on the way: all those due at one instant together
   * (as instances racing for a tick do), then letting what they started run.
   */
  async advance(ms: number): Promise<void> {
    const end = this.current + ms;
    for (;;) {
      await settle();
      let at = Infinity;
      for (const t of this.timers) if (t.at <= end) at = Math.min(at, t.at);
      if (at === Infinity) break;
      const due = [...this.timers].filter((t) => t.at === at).sort((x, y) => x.seq - y.seq);
      this.current = Math.max(this.current, at);
      for (const t of due) this.timers.delete(t);
      for (const t of due) t.fn();
    }
    this.current = end;
    await settle();
  }
}

/** A real memory-bus jobbus behind a target that records every enqueue (and can be made to fail or hang). */
export class RecordingTarget implements SchedulerTarget {
  readonly jobs: Jobbus = createJobbus();
  readonly accepted: Job[] = [];
  calls = 0;
  /** When set, each call runs this instead of enqueueing (throw to fail, return a pending promise to hang). */
  override: ((input: JobInput, call: number) => Promise<Job> | undefined) | undefined;

  async enqueue(input: JobInput): Promise<Job> {
    const call = ++this.calls;
    const replaced = this.override?.(input, call);
    const job = await (replaced ?? this.jobs.enqueue(input));
    this.accepted.push(job);
    return job;
  }

  /** The accepted jobs' ids, in order. */
  ids(): string[] {
    return this.accepted.map((j) => j.id);
  }
}
