/**
 * `jobbus/scheduler`: the cron scheduler's contract. The implementation (cron parsing,
 * misfire handling, lock providers) is not shipped yet; see the README's status section.
 */
export type { Task, MisfirePolicy, LockHandle, LockProvider, TriggerResult, Scheduler } from './types.js';
