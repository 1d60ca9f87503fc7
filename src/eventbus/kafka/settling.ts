/**
 * Waiting out a topic whose metadata has not settled (just created, leader moving): both drivers'
 * admin calls retry on the same Kafka errors, each naming them its own way.
 */
import { UnavailableError } from '../../errors.js';

/** Kafka errors that mean "the topic's metadata has not settled yet". */
const METADATA_SETTLING: ReadonlySet<string> = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_OR_FOLLOWER', 'NOT_LEADER_FOR_PARTITION']);

/** How a driver reads its errors. */
export interface DriverErrors {
  /** The Kafka error names in `err`. */
  names(err: unknown): readonly string[];
  /** `err` as the driver throws it to the bus (e.g. with its Kafka error name as `type`). */
  normalize(err: unknown): unknown;
}

/**
 * Run `attempt` every 100 ms until it returns true, treating the errors of a topic whose
 * metadata has not settled yet as "not yet"; any other error is thrown at once. After
 * `timeoutMs` an {@link UnavailableError} saying `what` (the last settling error as its cause).
 */
export async function untilSettled(what: string, timeoutMs: number, errors: DriverErrors, attempt: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await attempt()) return;
      last = undefined;
    } catch (e) {
      if (!errors.names(e).some((name) => METADATA_SETTLING.has(name))) throw errors.normalize(e);
      last = errors.normalize(e);
    }
    if (Date.now() >= deadline) throw new UnavailableError(`kafka: ${what} within ${timeoutMs} ms`, { cause: last });
    await new Promise((r) => setTimeout(r, 100));
  }
}
