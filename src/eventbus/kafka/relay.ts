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
import { describeError } from '../../jobs/errors.js';
import { setHeader } from '../header-record.js';
import type { KafkaBusLogger } from './options.js';
import type { BatchControl, ConsumedBatch, ConsumedRecord, GroupConsumerPort, ProduceRecord } from './port.js';
import { delayTopicName, relayDecision, type DelayTier } from './tiers.js';
import { decodeKey, DUE_AT_HEADER, TARGET_HEADER, toBytes } from './wire.js';

/** Settings of a relay. */
export interface DelayRelaySettings {
  readonly delayTopic: string;
  readonly tier: DelayTier;
  readonly tiers: readonly DelayTier[];
  /** The topic this tier finally delivers to. */
  readonly target: string;
  readonly consumer: GroupConsumerPort;
  /** Produce with acks = all. */
  readonly send: (topic: string, records: readonly ProduceRecord[]) => Promise<void>;
  readonly logger: KafkaBusLogger | undefined;
  readonly now?: () => number;
}

/** A running relay. */
export interface DelayRelay {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const SEND_FAILURE_BACKOFF_MS = 1_000;

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

/** Create a relay (not started). */
export function createDelayRelay(s: DelayRelaySettings): DelayRelay {
  const now = s.now ?? Date.now;
  const timers = new Map<number, NodeJS.Timeout>();
  let stopped = false;

  const wakeAt = (partition: number, untilMs: number): void => {
    s.consumer.pause(s.delayTopic, [partition]);
    const old = timers.get(partition);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      timers.delete(partition);
      if (!stopped) s.consumer.resume(s.delayTopic, [partition]);
    }, Math.max(0, untilMs - now()));
    timers.set(partition, timer);
  };

  const onBatch = async (batch: ConsumedBatch, control: BatchControl): Promise<void> => {
    const outgoing = new Map<string, ProduceRecord[]>();
    let last: number | undefined;
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
      const list = outgoing.get(topic) ?? [];
      list.push({ key: decodeKey(r.key), value: toBytes(r.value), headers, timestamp: now() });
      outgoing.set(topic, list);
      last = r.offset;
    }
    if (last !== undefined) {
      try {
        // Topics are written one after another so a hop never overtakes a forward; within a
        // topic, order (and key) is kept by the single send.
        for (const [topic, records] of outgoing) await s.send(topic, records);
      } catch (err) {
        s.logger?.warn({ delayTopic: s.delayTopic, err: describeError(err) }, 'kafka relay: forward failed; retrying');
        wakeAt(batch.partition, now() + SEND_FAILURE_BACKOFF_MS);
        return; // nothing advanced: the same records are fetched again
      }
      control.advance(last);
      try {
        await s.consumer.commit([{ topic: s.delayTopic, partition: batch.partition, offset: last + 1 }]);
      } catch (err) {
        // Not fatal: the next commit covers it; after a crash these are forwarded again.
        s.logger?.debug?.({ delayTopic: s.delayTopic, err: describeError(err) }, 'kafka relay: commit failed');
      }
    }
    if (waitUntil !== undefined && !stopped) wakeAt(batch.partition, waitUntil);
    await control.heartbeat();
  };

  return {
    async start() {
      await s.consumer.start({
        onBatch,
        onAssigned: () => {
          // Re-apply nothing from before a rebalance (spring-kafka#2525): re-read every head.
          for (const t of timers.values()) clearTimeout(t);
          timers.clear();
          s.consumer.resume(s.delayTopic);
        },
        onRebalancing: () => undefined,
        onCrash: (err) => s.logger?.warn({ delayTopic: s.delayTopic, err: describeError(err) }, 'kafka relay crashed; restarting'),
      });
    },
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await s.consumer.stop();
    },
  };
}
