/**
 * Pausing and resuming queues for a consumer group (issue 18), with the state on the bus itself
 * (store.ts, records.ts): every worker process of the group sees it, and it survives restarts.
 *
 *   detached --attach(gate): the first worker--> loading --first read--> watching --stop--> stopped
 *      |                                          `--read failed: again after pollMs
 *      `--stop--> stopped
 *
 * - detached: no worker in this instance (a producer, the CLI): pause, resume and paused only
 *   write and read the control topic.
 * - loading: the gate holds every reserve of the instance's workers until the paused queues are
 *   read (a restarted worker of a paused queue takes none of its jobs); a failed read is tried
 *   again every `pollMs` and the workers keep waiting.
 * - watching: the topic is read every `pollMs` and changes are applied to the gate (the lease
 *   backend: see RuntimeBackend.pauseQueue); a pause or resume made through this instance is
 *   applied at once. A failed read keeps the last state known. Paused records about to leave
 *   the folded window or the retention are re-published (records.ts).
 * - stopped: after close; nothing is read or written.
 */
import type { Logger } from 'pino';
import { ClosedError, ConflictError, InvalidArgumentError, NotInitializedError } from '../errors.js';
import { isBrowsable, type EventBus } from '../eventbus/types.js';
import { MAX_PAUSED, needsRefresh, type FoldedRecord } from './records.js';
import { createControlStore, type ControlStore } from './store.js';
import type { PausedQueue, QueueGate } from './types.js';

/** Default poll interval of the watchers, ms. */
export const DEFAULT_CONTROL_POLL_MS = 2_000;

/** Options of {@link createQueueControl}. */
export interface QueueControlOptions {
  readonly bus: EventBus;
  readonly group: string;
  readonly logger: Logger;
  /** How often a worker process reads the control topic, ms. Default {@link DEFAULT_CONTROL_POLL_MS}. */
  readonly pollMs?: number;
}

/** The pause control of one jobbus instance. */
export interface QueueControl {
  /** Pause `queue` for the group (idempotent); applied at once to this instance's workers. */
  pause(queue: string): Promise<void>;
  /** Resume `queue` for the group (idempotent); applied at once to this instance's workers. */
  resume(queue: string): Promise<void>;
  /** The group's paused queues, read from the bus now. */
  paused(): Promise<readonly PausedQueue[]>;
  /** `rows` with `paused` read now (for `jobs.stats()`); unchanged when the bus cannot browse or the read fails. */
  markPaused<T extends { readonly queue: string }>(rows: readonly T[]): Promise<(T & { paused?: boolean })[]>;
  /** Drive `gate` (the workers' backend): hold it until the state is read, then watch. Once. */
  attach(gate: QueueGate): void;
  /** Stop watching (close). */
  stop(): void;
}

/** The paused queue names of a fold. */
function pausedOf(folded: ReadonlyMap<string, FoldedRecord>): Set<string> {
  return new Set([...folded.values()].filter((r) => r.paused).map((r) => r.queue));
}

/** Create the pause control of one instance of `group` on `bus`. */
export function createQueueControl(options: QueueControlOptions): QueueControl {
  const { group, logger } = options;
  const pollMs = options.pollMs ?? DEFAULT_CONTROL_POLL_MS;
  if (!Number.isFinite(pollMs) || pollMs <= 0) throw new InvalidArgumentError(`controlPollMs must be > 0, got ${pollMs}`);
  const store = isBrowsable(options.bus) ? createControlStore(options.bus, group) : undefined;
  let state: 'detached' | 'loading' | 'watching' | 'stopped' = 'detached';
  let gate: QueueGate | undefined;
  const applied = new Set<string>();
  // Changes made through this instance: a poll that read before one of them does not apply its older view.
  let writes = 0;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let loaded!: () => void;
  const ready = new Promise<void>((resolve) => (loaded = resolve));

  function need(): ControlStore {
    if (state === 'stopped') throw new ClosedError('jobbus is closed');
    if (!store) {
      throw new NotInitializedError('this bus cannot browse its topics (BrowsableBus), so it holds no control topic: queues cannot be paused or resumed');
    }
    return store;
  }

  function setPaused(queue: string, paused: boolean): void {
    if (!gate || state === 'stopped' || applied.has(queue) === paused) return;
    if (paused) {
      applied.add(queue);
      gate.pauseQueue(queue);
    } else {
      applied.delete(queue);
      gate.resumeQueue(queue);
    }
  }

  function apply(pausedNow: ReadonlySet<string>): void {
    for (const q of pausedNow) setPaused(q, true);
    for (const q of [...applied]) if (!pausedNow.has(q)) setPaused(q, false);
  }

  async function refreshOld(s: ControlStore, folded: ReadonlyMap<string, FoldedRecord>): Promise<void> {
    const now = Date.now();
    for (const r of folded.values()) {
      if (!needsRefresh(r, now)) continue;
      await s.refresh(r).catch((err: unknown) => logger.warn({ err, queue: r.queue, group }, 'could not re-publish a pause record'));
    }
  }

  async function poll(s: ControlStore): Promise<void> {
    const seen = writes;
    let again = pollMs;
    try {
      const folded = await s.read();
      if (state === 'stopped') return;
      if (failing) logger.info({ group, topic: s.topic }, 'reading the paused queues again');
      failing = false;
      if (seen !== writes) {
        again = 0; // a change through this instance raced this read: read again now
      } else {
        apply(pausedOf(folded));
        if (state === 'loading') {
          state = 'watching';
          loaded();
        }
        await refreshOld(s, folded);
      }
    } catch (err) {
      if (!failing) {
        const what = state === 'loading' ? 'the workers take no job until it is read' : 'the last state known stays in force';
        logger.warn({ err, group, topic: s.topic }, `cannot read the paused queues (tried again every ${pollMs} ms); ${what}`);
      }
      failing = true;
    } finally {
      if (state === 'loading' || state === 'watching') {
        timer = setTimeout(() => void poll(s), again);
        timer.unref();
      }
    }
  }

  async function change(queue: string, paused: boolean): Promise<void> {
    const s = need();
    const folded = await s.read();
    const current = folded.get(queue);
    if (paused && !current?.paused && pausedOf(folded).size >= MAX_PAUSED) {
      throw new ConflictError(`group "${group}" has ${MAX_PAUSED} paused queues already, the most its control topic holds: resume one first`);
    }
    const written = await s.write(queue, paused, current);
    writes++;
    const verb = paused ? 'paused' : 'resumed';
    if (written) logger.info({ queue, group, version: written.version }, `queue ${verb} for the group`);
    else logger.info({ queue, group }, `queue was ${verb} for the group already`);
    setPaused(queue, paused);
  }

  return {
    pause: (queue) => change(queue, true),
    resume: (queue) => change(queue, false),
    async paused() {
      const folded = await need().read();
      return [...folded.values()]
        .filter((r) => r.paused)
        .map((r) => ({ queue: r.queue, group, pausedAt: r.pausedAt ?? r.storedAt }))
        .sort((a, b) => a.queue.localeCompare(b.queue));
    },
    async markPaused(rows) {
      if (!store || rows.length === 0) return [...rows];
      const paused = await store.read().then(pausedOf, (err: unknown) => logger.debug({ err, group }, 'stats: cannot read the paused queues'));
      return paused ? rows.map((r) => ({ ...r, paused: paused.has(r.queue) })) : [...rows];
    },
    attach(g) {
      if (!store || state !== 'detached') return;
      gate = g;
      state = 'loading';
      g.gateUntil(ready);
      void poll(store);
    },
    stop() {
      state = 'stopped';
      clearTimeout(timer);
      loaded();
    },
  };
}
