/**
 * Tasks as the engine keeps them: validated once at register/update (the error names the bad
 * field), with the parsed schedule and the job each tick enqueues, whose id and default
 * idempotency key derive from (task, tick).
 */
import { ValidationError } from '../errors.js';
import { createJob, type JobInput } from '../jobs/job.js';
import { parseSchedule, type Schedule } from './schedule.js';
import type { MisfirePolicy, PlainTask, Task, TypedTask } from './types.js';

/** Task names: letters, digits and `._:-`, at most 200 characters (they end up in lock keys). */
const NAME = /^[A-Za-z0-9._:-]{1,200}$/;
const POLICIES: readonly MisfirePolicy[] = ['skip', 'fire_once'];

/** A validated task. */
export interface PreparedTask {
  /** The task as registered. */
  readonly task: Task;
  readonly name: string;
  readonly schedule: Schedule;
  readonly timezone: string;
  readonly queue: string;
  readonly jobName: string;
  readonly misfirePolicy: MisfirePolicy;
  readonly lockTtlMs: number;
  /** The job a tick (or a manual trigger at `at`) enqueues. */
  jobFor(at: Date, manual?: boolean): JobInput;
}

/** The lock key of a tick, or of a manual trigger at `at`. */
export function lockKey(task: string, at: Date, manual = false): string {
  return manual ? `jobbus:sched:${task}:manual:${at.getTime()}` : `jobbus:sched:${task}:${at.getTime()}`;
}

/**
 * The job id of a tick: the same on every instance, so a double fire after a failover is one
 * job on NATS (whose dedup id is id|attempt|runAt, and runAt is the tick) and recognisable
 * elsewhere.
 */
export function jobIdFor(task: string, at: Date, manual = false): string {
  return manual ? `sched-${task}-manual-${at.getTime()}` : `sched-${task}-${at.getTime()}`;
}

function isTyped(task: Task): task is TypedTask {
  return (task as Partial<TypedTask>).job !== undefined;
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(field, `must be a non-empty string (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** What a task enqueues besides id, runAt and idempotency key. */
function jobBase(task: Task): Omit<JobInput, 'id' | 'runAt'> {
  const common = {
    ...(task.tenantId !== undefined && { tenantId: requireString(task.tenantId, 'tenantId') }),
    ...(task.headers !== undefined && { headers: { ...task.headers } }),
  };
  if (isTyped(task)) {
    const def = task.job;
    if (typeof def !== 'object' || def === null || typeof def.encode !== 'function') {
      throw new ValidationError('job', 'must be a job definition made by defineJob');
    }
    // Validated here, at register: a SchemaError names the payload field.
    const payload = def.encode(task.payload);
    return { ...common, name: def.name, queue: def.queue, payload, contentType: 'application/json', maxAttempts: def.maxAttempts ?? 0 };
  }
  const plain: PlainTask = task;
  return {
    ...common,
    name: requireString(plain.jobName, 'jobName'),
    queue: requireString(plain.queue, 'queue'),
    payload: plain.payload ?? {},
  };
}

/**
 * Validate a task and prepare it. Throws a `ValidationError` naming the field (`name`,
 * `schedule`, `timezone`, `queue`, `jobName`, `lockTtlMs`, `misfirePolicy`, `headers.x`, …) or
 * a `SchemaError` for a typed task's payload.
 */
export function prepareTask(task: Task, defaultLockTtlMs: number): PreparedTask {
  if (typeof task !== 'object' || task === null) throw new ValidationError('task', 'must be an object');
  const name = requireString(task.name, 'name');
  if (!NAME.test(name)) {
    throw new ValidationError('name', `"${name}" may hold only letters, digits and . _ : - (at most 200 characters)`);
  }
  const timezone = task.timezone ?? 'UTC';
  const schedule = parseSchedule(task.schedule, timezone);
  const lockTtlMs = task.lockTtlMs ?? defaultLockTtlMs;
  if (!Number.isSafeInteger(lockTtlMs) || lockTtlMs < 1_000) {
    throw new ValidationError('lockTtlMs', `must be a whole number of ms >= 1000 (got ${String(lockTtlMs)})`);
  }
  const misfirePolicy = task.misfirePolicy ?? 'skip';
  if (!POLICIES.includes(misfirePolicy)) {
    throw new ValidationError('misfirePolicy', `must be "skip" or "fire_once" (got ${JSON.stringify(misfirePolicy)})`);
  }
  if (task.idempotencyKey !== undefined) requireString(task.idempotencyKey, 'idempotencyKey');
  const base = jobBase(task);
  const jobFor = (at: Date, manual = false): JobInput => ({
    ...base,
    // Each job gets its own bytes: a consumer of one must not see another's changes.
    payload: base.payload instanceof Uint8Array ? base.payload.slice() : base.payload,
    id: jobIdFor(name, at, manual),
    runAt: at,
    idempotencyKey: task.idempotencyKey ?? (manual ? `${name}@manual:${at.toISOString()}` : `${name}@${at.toISOString()}`),
  });
  // Everything else (headers of strings, a non-empty payload) as the job contract checks it.
  createJob(jobFor(new Date(0)));
  return { task, name, schedule, timezone, queue: base.queue, jobName: base.name, misfirePolicy, lockTtlMs, jobFor };
}
