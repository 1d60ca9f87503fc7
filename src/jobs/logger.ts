import pino, { type Logger } from 'pino';

/** Default logger of jobbus components: pino at `JOBBUS_LOG_LEVEL` (default `warn`). */
export function defaultLogger(): Logger {
  return pino({ name: 'jobbus', level: process.env.JOBBUS_LOG_LEVEL ?? 'warn' });
}
