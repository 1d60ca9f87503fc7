/**
 * Failures talking to the server as jobbus errors: our own typed errors pass, anything else
 * (client errors, timeouts, API errors) is a retryable {@link UnavailableError}.
 */
import { JobbusError, UnavailableError } from '../../errors.js';

/** The message of an error, or the thrown value as text. */
export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `err` as a jobbus error: typed errors pass, the rest is "unavailable" (`what`: the operation). */
export function unavailable(what: string, err: unknown): JobbusError {
  if (err instanceof JobbusError) return err;
  return new UnavailableError(`${what}: ${describe(err)}`, { cause: err });
}
