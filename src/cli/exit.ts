/**
 * Exit codes of the `jobbus` command, stable for scripts, and the mapping from the library's
 * error codes (src/errors.ts) to them.
 */
import { describeError, isJobbusError } from '../errors.js';

/** What each exit code means. */
export const EXIT = Object.freeze({
  /** Done. */
  ok: 0,
  /** The operation failed (a broker refused it, a job failed, a feature is not available on this bus). */
  failed: 1,
  /** Usage or configuration error: unknown command or flag, bad value, invalid config file. */
  usage: 2,
  /** The broker (or the status store) cannot be reached or refused the credentials. */
  unreachable: 3,
  /** Not found: an unknown job id (status), no DLQ entry for the given ids, an unknown task. */
  notFound: 4,
});

/** The help text's table of exit codes. */
export const EXIT_HELP = `Exit codes:
  0  done
  1  the operation failed
  2  usage or configuration error (unknown command or flag, bad value, invalid config)
  3  broker or status store unreachable (or credentials refused)
  4  not found (unknown job id or task, none of the given DLQ ids)`;

/** The exit code for an error thrown by a command. */
export function exitCodeOf(err: unknown): number {
  if (!isJobbusError(err)) return EXIT.failed;
  switch (err.code) {
    case 'VALIDATION':
    case 'INVALID_ARGUMENT':
    case 'SCHEMA':
    case 'DECODE':
      return EXIT.usage;
    case 'UNAVAILABLE':
    case 'TIMEOUT':
    case 'AUTH_FAILED':
      return EXIT.unreachable;
    case 'NOT_FOUND':
      return EXIT.notFound;
    default:
      return EXIT.failed;
  }
}

/** One line for stderr: the message, without the class names a person does not need. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message.replace(/\s+/g, ' ');
  return describeError(err);
}
