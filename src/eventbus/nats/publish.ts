/**
 * Publishing: a message goes to its topic's queue stream, or, with a future `deliverAt`, to the
 * delay tier of its remaining delay in the topic's delay stream (see delay-tiers.ts); one due
 * within FORWARD_LEAD_MS goes straight to the queue stream, where its subscriber holds it until
 * due. `dedupId` becomes `Nats-Msg-Id`; with `mustStore` a "duplicate" answer is an error; with
 * `retain` the topic's stream is made (or marked) retained first (see retained.ts).
 */
import type { MsgHdrs } from '@nats-io/nats-core';
import { ClosedError, InvalidArgumentError } from '../../errors.js';
import type { EventBus, Message, PublishOptions } from '../types.js';
import { FORWARD_LEAD_MS, tierFor } from './delay-tiers.js';
import type { ResolvedNatsOptions } from './options.js';
import type { Provisioner } from './provision.js';
import { notStoredError, publishError } from './publish-errors.js';
import { PublishFailedError, type JsPublisher } from './publisher.js';
import { writeHeaders } from './wire.js';

/** What {@link Publishing.publishOne} does with one message. */
export interface PublishSpec {
  /** Due time (epoch ms) of a delayed message. */
  readonly dueAt?: number | undefined;
  readonly dedupId?: string | undefined;
  readonly mustStore?: boolean | undefined;
  readonly retain?: boolean | undefined;
  /** Set by a relay moving a delayed message (see relay.ts). */
  readonly relayOrigin?: string | undefined;
}

/** The publish side of the bus. */
export interface Publishing extends Pick<EventBus, 'publish' | 'publishBatch'> {
  /** Publish one checked message (the relays forward through it). */
  publishOne(topic: string, message: Message, spec: PublishSpec): Promise<void>;
}

/** What {@link createPublishing} needs. */
export interface PublishDeps {
  readonly prov: Provisioner;
  readonly publisher: JsPublisher;
  readonly opts: ResolvedNatsOptions;
  /** `NatsEventBusOptions.msgId`. */
  readonly msgIdOf?: ((topic: string, message: Message) => string | undefined) | undefined;
  newHeaders(): MsgHdrs;
  /** Throws a ClosedError once the bus is closed. */
  assertOpen(): void;
  isClosed(): boolean;
}

function checkMessage(message: Message): void {
  if (!message || !(message.value instanceof Uint8Array)) throw new InvalidArgumentError('message value must be a Uint8Array');
}

/** The due time of a publish, epoch ms; undefined when it is due now. */
function dueAtOf(o: PublishOptions | undefined): number | undefined {
  const due = o?.deliverAt?.getTime();
  if (due === undefined) return undefined;
  if (!Number.isFinite(due)) throw new InvalidArgumentError('deliverAt must be a valid Date');
  return due > Date.now() ? due : undefined;
}

/** Create the publish side of one bus. */
export function createPublishing(d: PublishDeps): Publishing {
  const { prov, opts } = d;

  async function subjectFor(topic: string, spec: PublishSpec): Promise<string> {
    const delayed = spec.dueAt !== undefined && spec.dueAt - Date.now() > FORWARD_LEAD_MS;
    const ref = !delayed || spec.retain ? await prov.streamFor(topic, spec.retain) : undefined;
    if (!delayed) return ref!.subject;
    return (await prov.delayStreamFor(topic)).subjects.get(tierFor(spec.dueAt! - Date.now()).name)!;
  }

  async function publishOne(topic: string, message: Message, spec: PublishSpec, retry = true): Promise<void> {
    const subject = await subjectFor(topic, spec);
    const h = d.newHeaders();
    writeHeaders(h, message, spec.dueAt, spec.relayOrigin);
    const dedupId = spec.dedupId ?? d.msgIdOf?.(topic, message);
    if (dedupId !== undefined) h.set('Nats-Msg-Id', dedupId);
    let duplicate: boolean;
    try {
      duplicate = (await d.publisher.publish(subject, message.value, h, opts.publishTimeoutMs)).duplicate;
    } catch (err) {
      const failure = err instanceof PublishFailedError ? err.failure : undefined;
      if (retry && opts.provision === 'create' && failure?.kind === 'no-stream') {
        // The stream was deleted under us (or lost by a memory-storage restart): provision again once.
        prov.forgetStream(topic);
        return publishOne(topic, message, spec, false);
      }
      if (failure?.kind === 'closed' && d.isClosed()) throw new ClosedError('NATS event bus is closed', { cause: err });
      throw publishError(topic, subject, err);
    }
    if (duplicate && spec.mustStore) throw notStoredError(topic, dedupId ?? '');
  }

  return {
    publishOne: (topic, message, spec) => publishOne(topic, message, spec),

    async publish(topic, message, o) {
      d.assertOpen();
      checkMessage(message);
      await publishOne(topic, message, { dueAt: dueAtOf(o), dedupId: o?.dedupId, mustStore: o?.mustStore, retain: o?.retain });
    },

    async publishBatch(topic, messages, o) {
      d.assertOpen();
      if (!Array.isArray(messages)) throw new InvalidArgumentError('messages must be an array');
      messages.forEach(checkMessage);
      const dueAt = dueAtOf(o);
      const ids = o?.dedupIds;
      if (ids !== undefined && (!Array.isArray(ids) || ids.length > messages.length)) {
        throw new InvalidArgumentError('dedupIds must be an array with at most one id per message');
      }
      if (dueAt === undefined || o?.retain) await prov.streamFor(topic, o?.retain);
      if (dueAt !== undefined) await prov.delayStreamFor(topic);
      // Pipelined: every publish is on the wire before the first PubAck is awaited, and
      // one connection keeps their order.
      const spec = { dueAt, mustStore: o?.mustStore, retain: o?.retain };
      const results = await Promise.allSettled(messages.map((m, i) => publishOne(topic, m, { ...spec, dedupId: ids?.[i] })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
