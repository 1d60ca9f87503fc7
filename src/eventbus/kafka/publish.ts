/**
 * Publishing on Kafka: a message due now, or due within the smallest delay tier, goes straight
 * to its topic (a future due time travels along in {@link DUE_AT_HEADER} and the subscriber
 * holds it until then, tiers.ts `isSubTierDelay`); a later one goes to the delay-tier topic that
 * fits, whose relay moves it on (relay.ts).
 */
import { ValidationError } from '../../errors.js';
import type { BatchPublishOptions, Message } from '../types.js';
import type { SendFn } from './sender.js';
import { delayTopicName, isSubTierDelay, pickTier, type DelayTier } from './tiers.js';
import { checkTopic } from './topics.js';
import { DUE_AT_HEADER, encodeHeaders, TARGET_HEADER } from './wire.js';

/** Topics to create (if missing) before a send; `delay` topics use the delay partition count. */
export type EnsureFn = (topic: string, topics: readonly { readonly name: string; readonly delay?: boolean }[]) => Promise<void>;

/** Publish several messages to one topic (one message is a batch of one). */
export type PublishFn = (topic: string, messages: readonly Message[], opts?: BatchPublishOptions) => Promise<void>;

/** What publishing needs. */
export interface PublisherDeps {
  /** This bus's delay ladder. */
  readonly tiers: readonly DelayTier[];
  /** Make sure topics exist (publish errors classified). */
  readonly ensure: EnsureFn;
  /** Produce records (chunked, errors classified). */
  readonly send: SendFn;
  /** Throws once the bus is closed. */
  readonly assertOpen: () => void;
}

/** Check the topic and messages of a publish. */
function checkMessages(topic: string, messages: readonly Message[]): void {
  checkTopic(topic);
  if (!Array.isArray(messages)) throw new ValidationError('messages', 'must be an array');
  for (const m of messages) {
    if (!m || !(m.value instanceof Uint8Array)) throw new ValidationError('message.value', 'must be a Uint8Array');
  }
}

/** The due time (epoch ms) of a publish, when it has one. */
function dueOf(opts: BatchPublishOptions | undefined): number | undefined {
  const deliverAt = opts?.deliverAt;
  if (deliverAt !== undefined && !(deliverAt instanceof Date && Number.isFinite(deliverAt.getTime()))) {
    throw new ValidationError('deliverAt', 'must be a valid Date');
  }
  return deliverAt?.getTime();
}

/** Create the publish function of a bus. */
export function createPublisher({ tiers, ensure, send, assertOpen }: PublisherDeps): PublishFn {
  /** Due, or due within the smallest tier: straight to the topic, an early due time in a header. */
  const sendToTopic = async (topic: string, messages: readonly Message[], dueMs: number | undefined, now: number): Promise<void> => {
    const early = dueMs !== undefined && dueMs > now;
    await ensure(topic, [{ name: topic }]);
    await send(
      topic,
      messages.map((m) => {
        const headers = encodeHeaders(m.headers ?? {}, m.invalidHeaders);
        return { key: m.key, value: m.value, headers: early ? { ...headers, [DUE_AT_HEADER]: String(dueMs) } : headers };
      }),
    );
  };

  const sendToTier = async (topic: string, messages: readonly Message[], dueMs: number, now: number): Promise<void> => {
    const delayTopic = delayTopicName(topic, pickTier(tiers, dueMs - now));
    await ensure(delayTopic, [{ name: topic }, { name: delayTopic, delay: true }]);
    const due = String(dueMs);
    await send(
      delayTopic,
      messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: { ...encodeHeaders(m.headers ?? {}, m.invalidHeaders), [DUE_AT_HEADER]: due, [TARGET_HEADER]: topic },
        // The tier clock starts at this timestamp (tiers.ts): set it here, not in the client.
        timestamp: now,
      })),
    );
  };

  return async (topic, messages, opts) => {
    assertOpen();
    checkMessages(topic, messages);
    if (messages.length === 0) return;
    const dueMs = dueOf(opts);
    // dedupId / mustStore: Kafka has no broker-side dedup by id, and a produce acknowledged with
    // acks = all always stored the records: nothing to do for either.
    const now = Date.now();
    if (dueMs === undefined || dueMs <= now || isSubTierDelay(tiers, dueMs - now)) await sendToTopic(topic, messages, dueMs, now);
    else await sendToTier(topic, messages, dueMs, now);
  };
}
