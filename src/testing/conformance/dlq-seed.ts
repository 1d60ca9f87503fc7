/** Dead-letter entries written straight to a DLQ (as the bridge writes them), with chosen names, reasons and times. */
import { createJob } from '../../jobs/job.js';
import type { Job } from '../../jobs/types.js';
import { encodeJob } from '../../headers/codec.js';
import { deadLetterMessage } from '../../headers/dead-letter.js';
import type { EventBus } from '../../eventbus/types.js';

/** One entry to seed. */
export interface SeedSpec {
  readonly name: string;
  readonly reason: string;
  readonly failedAt: Date;
  /** The attempt the job failed on. Default 2. */
  readonly attempt?: number;
}

/** A seeded entry: its job and when it failed. */
export interface Seeded {
  readonly job: Job;
  readonly failedAt: Date;
}

/** `n` specs failing one second apart from `base` (oldest first), names and reasons from the lists in turn. */
export function specs(n: number, names: readonly string[], reasons: readonly string[], base = new Date(Date.now() - 3_600_000)): SeedSpec[] {
  return Array.from({ length: n }, (_, i) => ({ name: names[i % names.length]!, reason: reasons[i % reasons.length]!, failedAt: new Date(base.getTime() + i * 1_000) }));
}

/** Publish dead-letter copies of new jobs of `queue` to `dlq`, one at a time, in the order given. */
export async function seedDLQ(bus: EventBus, queue: string, dlq: string, list: readonly SeedSpec[]): Promise<Seeded[]> {
  const out: Seeded[] = [];
  for (const [i, s] of list.entries()) {
    const job = createJob({ name: s.name, queue, payload: { i }, attempt: s.attempt ?? 2, maxAttempts: 3 });
    await bus.publish(dlq, deadLetterMessage(encodeJob(job), queue, s.reason, s.failedAt), { mustStore: true, retain: true });
    out.push({ job, failedAt: s.failedAt });
  }
  return out;
}
