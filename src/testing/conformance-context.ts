/** Shared by the conformance suite's files: what a case file is handed, and a timeout helper. */
import type { EventBus, Message } from '../eventbus/types.js';
import type { JobHandler, RuntimeBackend, Worker, WorkerConfigInput } from '../index.js';
import pino from 'pino';
import type { ConformanceTestApi } from './conformance.js';

/** Logger of every component the suite makes. */
export const silent = pino({ level: 'silent' });

/** Quick retries, so failure cases finish fast. */
export const FAST_RETRY = { maxAttempts: 3, initialBackoffMs: 30, maxBackoffMs: 120, jitter: 0, attemptTimeoutMs: 5_000 };

/** What the main suite hands the case files it splits out (reliability, lifecycle, failures). */
export interface ConformanceContext {
  readonly it: ConformanceTestApi['it'];
  readonly expect: ConformanceTestApi['expect'];
  readonly patience: number;
  queueName(prefix: string): string;
  newBus(): Promise<EventBus>;
  newBackend(bus?: EventBus, group?: string, maxInFlight?: number): Promise<RuntimeBackend>;
  newWorker(backend: RuntimeBackend, config: WorkerConfigInput, handlers: Record<string, JobHandler>): Promise<Worker>;
  collect(bus: EventBus, topic: string): Promise<Message[]>;
  /** Run after the current test (closing what it opened). */
  readonly cleanups: (() => Promise<void>)[];
}

/** `p`, or an error naming `what` after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
