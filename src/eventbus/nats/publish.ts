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
import { PublishFailedError, type JsPublisher, type PubAck, type PublishItem } from './publisher.js';
import { encodeHeaders, MSG_ID_HEADER, RELAY_ORIGIN_HEADER, type EncodedHeaders } from './wire.js';

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

/** A value the client refuses in a header. */
const CR_LF = /[\r\n]/;

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

  /**
   * The encoded headers of one message (see wire.ts `encodeHeaders`), with `givenId` for its
   * dedup id (default: the spec's; else `msgIdOf`). A dedup id or relay
   * origin with CR or LF goes through the client's header set, which refuses it with its own
   * error, as it always did.
   */
  function headersOf(topic: string, message: Message, spec: PublishSpec, givenId = spec.dedupId): { headers: EncodedHeaders; dedupId: string | undefined } {
    const dedupId = givenId ?? d.msgIdOf?.(topic, message);
    if (dedupId !== undefined && CR_LF.test(dedupId)) d.newHeaders().set(MSG_ID_HEADER, dedupId);
    if (spec.relayOrigin !== undefined && CR_LF.test(spec.relayOrigin)) d.newHeaders().set(RELAY_ORIGIN_HEADER, spec.relayOrigin);
    return { headers: encodeHeaders(message, spec.dueAt, spec.relayOrigin, dedupId), dedupId };
  }

  /** What a publish's answer means for the caller: undefined when it is done, else the error to throw. */
  function outcome(topic: string, subject: string, r: PubAck | PublishFailedError, spec: PublishSpec, dedupId: string | undefined): Error | undefined {
    if (r instanceof PublishFailedError) {
      if (r.failure.kind === 'closed' && d.isClosed()) return new ClosedError('NATS event bus is closed', { cause: r });
      return publishError(topic, subject, r);
    }
    return r.duplicate && spec.mustStore ? notStoredError(topic, dedupId ?? '') : undefined;
  }

  /** The stream may have been deleted under us (or lost by a memory-storage restart): provision again once. */
  const mayReprovision = (r: unknown): boolean => opts.provision === 'create' && r instanceof PublishFailedError && r.failure.kind === 'no-stream';

  async function publishOne(topic: string, message: Message, spec: PublishSpec, retry = true): Promise<void> {
    const subject = await subjectFor(topic, spec);
    const { headers, dedupId } = headersOf(topic, message, spec);
    let ack: PubAck | PublishFailedError;
    try {
      ack = await d.publisher.publish(subject, message.value, headers, opts.publishTimeoutMs);
    } catch (err) {
      if (!(err instanceof PublishFailedError)) throw publishError(topic, subject, err);
      ack = err;
    }
    if (retry && mayReprovision(ack)) {
      prov.forgetStream(topic);
      return publishOne(topic, message, spec, false);
    }
    const err = outcome(topic, subject, ack, spec, dedupId);
    if (err) throw err;
  }

  /**
   * A batch due now, to one subject: encoded and written in one synchronous pass, one promise for
   * all the PubAcks. What each message meets is what {@link publishOne} of it would meet (a
   * message it would reject, e.g. a bad header name, is not sent; the others are); the error of
   * the first message that failed is thrown.
   */
  async function publishNow(topic: string, subject: string, messages: readonly Message[], spec: PublishSpec, ids: readonly (string | undefined)[] | undefined): Promise<void> {
    const errors: unknown[] = new Array(messages.length);
    const dedupIds: (string | undefined)[] = new Array(messages.length);
    const items: PublishItem[] = [];
    const sent: number[] = [];
    messages.forEach((m, i) => {
      try {
        const h = headersOf(topic, m, spec, ids?.[i]);
        dedupIds[i] = h.dedupId;
        items.push({ data: m.value, headers: h.headers });
        sent.push(i);
      } catch (err) {
        errors[i] = err;
      }
    });
    const acks = await d.publisher.publishMany(subject, items, opts.publishTimeoutMs);
    const again: Promise<void>[] = [];
    acks.forEach((r, k) => {
      const i = sent[k]!;
      if (mayReprovision(r)) {
        if (again.length === 0) prov.forgetStream(topic);
        again.push(publishOne(topic, messages[i]!, { ...spec, dedupId: ids?.[i] }, false).catch((err: unknown) => void (errors[i] = err)));
      } else {
        errors[i] = outcome(topic, subject, r, spec, dedupIds[i]);
      }
    });
    await Promise.all(again);
    const failed = errors.find((e) => e !== undefined);
    if (failed !== undefined) throw failed;
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
      const ref = dueAt === undefined || o?.retain ? await prov.streamFor(topic, o?.retain) : undefined;
      if (dueAt !== undefined) await prov.delayStreamFor(topic);
      const spec = { dueAt, mustStore: o?.mustStore, retain: o?.retain };
      if (dueAt === undefined && ref) return publishNow(topic, ref.subject, messages, spec, ids);
      // Delayed: each to the tier of its delay. Pipelined: every publish is on the wire before
      // the first PubAck is awaited, and one connection keeps their order.
      const results = await Promise.allSettled(messages.map((m, i) => publishOne(topic, m, { ...spec, dedupId: ids?.[i] })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
