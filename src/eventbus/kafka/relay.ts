/**
 * The relay of one delay-tier topic (`<topic>.delay.<tier>`): reads it in offset order with its
 * own consumer group and moves each message on when its tier time is up, to the target topic
 * when due, else to the tier matching the remaining delay (see tiers.ts).
 *
 * Partition state machine:
 *
 *   READING --head not released yet--> WAITING (partition paused, wake-up timer set)
 *   WAITING --timer fires--> READING (partition resumed; the head is fetched again)
 *   READING/WAITING --reassignment--> READING (timers cleared, everything resumed and re-read
 *                                               from the committed offset)
 *
 * The head is never "advanced" past, so kafkajs fetches it again after the resume: nothing
 * waiting is held in memory, however many messages wait. A forward is committed only after the
 * produce was acknowledged (at-least-once; a crash in between forwards a message twice, with
 * the same headers and job id). The wake-up is a timer, not the next poll (spring-kafka#1716).
 */
import { describeError, type UnavailableError } from '../../errors.js';
import { setHeader } from '../header-record.js';
import { safeTimeout, type SafeTimer } from '../timers.js';
import type { KafkaBusLogger } from './options.js';
import type { BatchControl, ConsumedBatch, ConsumedRecord, GroupConsumerPort, ProduceRecord } from './port.js';
import { isRejected } from './publish-errors.js';
import { delayTopicName, relayDecision, type DelayTier } from './tiers.js';
import { decodeKey, DUE_AT_HEADER, TARGET_HEADER, toBytes } from './wire.js';
import { createConsumerSupervisor } from './consumer-supervisor.js';

/** Header on a relay's dead-letter copy: why the broker refused the forward, and from where. */
export const RELAY_ERROR_HEADER = 'jobbus_relay_error';

/** What the relays of a bus moved aside (shared by all relays of one bus). */
export interface RelayCounters {
  /** Records the broker refused for good, copied to their dead-letter topic. */
  deadLettered: number;
  /** Records refused for good whose dead-letter copy was refused too: skipped after the attempts. */
  skipped: number;
}

/** Settings of a relay. */
export interface DelayRelaySettings {
  readonly delayTopic: string;
  readonly tier: DelayTier;
  /** The ladder hops go to (tiers that have relays); `tier` itself need not be on it (L3). */
  readonly tiers: readonly DelayTier[];
  /** The topic this tier finally delivers to. */
  readonly target: string;
  /** Consumer group id of the relay (for logs and health). */
  readonly groupId: string;
  /** A new, not started consumer of the delay topic; called again to replace one that crashed for good. */
  readonly newConsumer: () => GroupConsumerPort;
  /** Produce with acks = all; rejects with a classified JobbusError (publish-errors.ts). */
  readonly send: (topic: string, records: readonly ProduceRecord[]) => Promise<void>;
  /** Where a record the broker refuses for good goes (S5). */
  readonly deadLetterTopic: string;
  readonly counters: RelayCounters;
  readonly logger: KafkaBusLogger | undefined;
  readonly now?: () => number;
  /** First back-off after a failed forward, ms (doubles per failure, up to 30 s). Default 1 000. */
  readonly backoffMs?: number;
  /** Attempts at a refused record whose dead-letter copy is refused too, before it is skipped. Default: never skipped. */
  readonly maxRejectedAttempts?: number;
}

/** A running relay. */
export interface DelayRelay {
  readonly delayTopic: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Why its consumer is down (crashed, not assigned again yet), or undefined. */
  health(): UnavailableError | undefined;
}

const MAX_BACKOFF_MS = 30_000;

function rawHeaderBytes(record: ConsumedRecord): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    let v = Array.isArray(value) ? value[value.length - 1] : value;
    if (v === null || v === undefined) v = new Uint8Array(0);
    setHeader(out, name, typeof v === 'string' ? new TextEncoder().encode(v) : toBytes(v as Uint8Array));
  }
  return out;
}

function dueAtOf(headers: Record<string, Uint8Array>): number {
  const raw = headers[DUE_AT_HEADER];
  if (!raw) return 0; // no due time: deliver now (the bridge still checks job_run_at)
  const n = Number(new TextDecoder().decode(raw));
  return Number.isFinite(n) ? n : 0;
}

/** One released record and where it goes. */
interface Forward {
  readonly offset: number;
  readonly topic: string;
  readonly record: ProduceRecord;
}

/** Create a relay (not started). */
export function createDelayRelay(s: DelayRelaySettings): DelayRelay {
  // A relay that crashed for good would strand every job waiting in its tier: keep it alive.
  const member = createConsumerSupervisor({ topic: s.delayTopic, groupId: s.groupId, newConsumer: s.newConsumer, logger: s.logger });
  const now = s.now ?? Date.now;
  const backoffMs = s.backoffMs ?? 1_000;
  // Skipping loses the job: only when the user asked for it (relaySkipRefusedAfter).
  const maxRejectedAttempts = s.maxRejectedAttempts ?? Number.POSITIVE_INFINITY;
  const timers = new Map<number, SafeTimer>();
  // partition -> consecutive failed forwards (back-off exponent)
  const failures = new Map<number, number>();
  // partition -> attempts at its head record, refused together with its dead-letter copy
  const rejectedHead = new Map<number, { offset: number; attempts: number }>();
  let stopped = false;

  const where = (partition: number, offset?: number): string =>
    `${s.delayTopic}/${partition}${offset === undefined ? '' : `@${offset}`}`;

  const resume = (partition: number): void => {
    if (stopped) return;
    try {
      member.current().resume(s.delayTopic, [partition]);
    } catch (err) {
      // kafkajs throws here between a consumer crash and its restart (S2). Try again shortly;
      // a new assignment resumes everything anyway (onAssigned).
      s.logger?.warn({ delayTopic: s.delayTopic, partition, err: describeError(err) }, 'kafka relay: resume failed; retrying');
      arm(partition, now() + backoffMs);
    }
  };

  const arm = (partition: number, untilMs: number): void => {
    timers.get(partition)?.clear();
    // safeTimeout: no overflow on a far-future release (R5), no throw into the process (S2).
    const timer = safeTimeout(
      () => {
        if (timers.get(partition) === timer) timers.delete(partition);
        resume(partition);
      },
      untilMs - now(),
      (err) => s.logger?.error({ delayTopic: s.delayTopic, partition, err: describeError(err) }, 'kafka relay: wake-up failed'),
    );
    timers.set(partition, timer);
  };

  const wakeAt = (partition: number, untilMs: number): void => {
    try {
      member.current().pause(s.delayTopic, [partition]);
    } catch (err) {
      // Not paused: the head is fetched again and waits again; no harm beyond a re-fetch.
      s.logger?.warn({ delayTopic: s.delayTopic, partition, err: describeError(err) }, 'kafka relay: pause failed');
    }
    arm(partition, untilMs);
  };

  const backOff = (partition: number): number => {
    const n = (failures.get(partition) ?? 0) + 1;
    failures.set(partition, n);
    const delay = Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** Math.min(n - 1, 16));
    wakeAt(partition, now() + delay);
    return delay;
  };

  /** Dead-letter a refused record; true when the relay may move past it. */
  const moveAside = async (partition: number, f: Forward, reason: unknown): Promise<'moved' | 'retry'> => {
    const headers: Record<string, string | Uint8Array> = { ...f.record.headers };
    delete headers[DUE_AT_HEADER];
    delete headers[TARGET_HEADER];
    const why = `forward of ${where(partition, f.offset)} to "${f.topic}" refused: ${describeError(reason)}`.slice(0, 1024);
    setHeader(headers, RELAY_ERROR_HEADER, why);
    try {
      await s.send(s.deadLetterTopic, [{ ...f.record, headers }]);
      s.counters.deadLettered++;
      s.logger?.error({ delayTopic: s.delayTopic, partition, offset: f.offset, deadLetterTopic: s.deadLetterTopic, reason: why }, 'kafka relay: record refused for good; copied to the dead-letter topic');
      return 'moved';
    } catch (err) {
      if (!isRejected(err)) throw err; // transient: retried as a whole
      const head = rejectedHead.get(partition);
      const attempts = head?.offset === f.offset ? head.attempts + 1 : 1;
      rejectedHead.set(partition, { offset: f.offset, attempts });
      const fields = { delayTopic: s.delayTopic, partition, offset: f.offset, attempts, reason: why, dlqError: describeError(err) };
      if (attempts < maxRejectedAttempts) {
        s.logger?.error(fields, 'kafka relay: record refused for good and its dead-letter copy refused too; kept, retrying with back-off (the tier partition waits)');
        return 'retry';
      }
      rejectedHead.delete(partition);
      s.counters.skipped++;
      s.logger?.error(fields, 'kafka relay: record refused for good and its dead-letter copy refused too; SKIPPED (lost)');
      return 'moved';
    }
  };

  /**
   * Forward `plan` (offset order). Fast path: one send per topic. When the broker refuses the
   * batch for good, record by record, so only the refused records are moved aside (S5).
   * Returns the last offset handled (forwarded or moved aside), or undefined.
   */
  const forward = async (partition: number, plan: readonly Forward[]): Promise<number | undefined> => {
    const byTopic = new Map<string, ProduceRecord[]>();
    for (const f of plan) {
      const list = byTopic.get(f.topic) ?? [];
      list.push(f.record);
      byTopic.set(f.topic, list);
    }
    try {
      // Topics are written one after another so a hop never overtakes a forward; within a
      // topic, order (and key) is kept by the single send.
      for (const [topic, records] of byTopic) await s.send(topic, records);
      return plan[plan.length - 1]!.offset;
    } catch (err) {
      if (!isRejected(err)) {
        const delay = backOff(partition);
        s.logger?.warn({ delayTopic: s.delayTopic, partition, retryInMs: delay, err: describeError(err) }, 'kafka relay: forward failed; retrying');
        return undefined; // nothing advanced: the same records are fetched again
      }
    }
    // Some records were refused for good: find them one by one (records of the failed batch
    // that the broker did store are sent again: duplicates, never a loss).
    let last: number | undefined;
    for (const f of plan) {
      if (stopped) break;
      try {
        try {
          await s.send(f.topic, [f.record]);
        } catch (err) {
          if (!isRejected(err)) throw err;
          if ((await moveAside(partition, f, err)) === 'retry') {
            backOff(partition);
            return last;
          }
        }
        last = f.offset;
      } catch (err) {
        const delay = backOff(partition);
        s.logger?.warn({ delayTopic: s.delayTopic, partition, retryInMs: delay, err: describeError(err) }, 'kafka relay: forward failed; retrying');
        return last;
      }
    }
    return last;
  };

  const onBatch = async (batch: ConsumedBatch, control: BatchControl): Promise<void> => {
    const plan: Forward[] = [];
    let waitUntil: number | undefined;
    for (const r of batch.records) {
      if (!control.isActive() || stopped) break;
      const headers = rawHeaderBytes(r);
      const decision = relayDecision(s.tiers, s.tier, now(), r.timestamp, dueAtOf(headers));
      if (decision.kind === 'wait') {
        waitUntil = decision.untilMs;
        break;
      }
      let topic: string;
      if (decision.kind === 'forward') {
        if (!decision.early) delete headers[DUE_AT_HEADER]; // early: the subscriber holds it until due
        delete headers[TARGET_HEADER];
        topic = s.target;
      } else {
        topic = delayTopicName(s.target, decision.tier);
      }
      plan.push({ offset: r.offset, topic, record: { key: decodeKey(r.key), value: toBytes(r.value), headers, timestamp: now() } });
    }
    if (plan.length) {
      const last = await forward(batch.partition, plan);
      if (last === undefined) return; // backing off; the partition is paused until then
      control.advance(last);
      try {
        await member.current().commit([{ topic: s.delayTopic, partition: batch.partition, offset: last + 1 }]);
      } catch (err) {
        // Not fatal: the next commit covers it; after a crash these are forwarded again.
        s.logger?.debug?.({ delayTopic: s.delayTopic, err: describeError(err) }, 'kafka relay: commit failed');
      }
      if (last !== plan[plan.length - 1]!.offset) return; // stopped part-way, backing off
      failures.delete(batch.partition);
    }
    if (waitUntil !== undefined && !stopped) wakeAt(batch.partition, waitUntil);
    await control.heartbeat();
  };

  const clearTimers = (): void => {
    for (const t of timers.values()) t.clear();
    timers.clear();
  };

  return {
    delayTopic: s.delayTopic,
    health: () => member.down(),
    async start() {
      await member.start({
        onBatch,
        onAssigned: () => {
          // Re-apply nothing from before a rebalance (spring-kafka#2525): re-read every head.
          clearTimers();
          failures.clear();
          try {
            member.current().resume(s.delayTopic);
          } catch (err) {
            s.logger?.warn({ delayTopic: s.delayTopic, err: describeError(err) }, 'kafka relay: resume after assignment failed');
          }
        },
        onRebalancing: () => undefined,
        // The supervisor logs the crash and re-creates a consumer kafkajs does not restart (S3).
        onCrash: () => clearTimers(),
      });
    },
    async stop() {
      stopped = true;
      clearTimers();
      await member.stop();
    },
  };
}
