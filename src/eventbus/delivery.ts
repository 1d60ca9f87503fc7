/**
 * The delivery rule every bus shares: how a handler's promise maps to a settle, and the
 * defaults and checks of {@link SubscribeOptions}. Buses differ in how they carry out a
 * settle (ack, nak with delay, +TERM, a commit), never in which settle a handler earns.
 */
import { InvalidArgumentError } from '../errors.js';
import { callHandler } from './call-handler.js';
import { DeliveryTerminated, RedeliverAfter, type Delivery, type DeliveryHandler, type Ordering, type SubscribeOptions } from './types.js';

/**
 * Header of a message not to be delivered before its due time: epoch milliseconds, decimal. The
 * same name on every bus, so a message moved between buses (or written by a foreign producer)
 * keeps its delay; each bus removes it before a handler sees the message.
 */
export const DUE_AT_HEADER = 'jobbus_due_at';

/** What a bus does with a delivery once its handler settled. */
export type Settle =
  /** Processed: acknowledge (commit). */
  | { readonly kind: 'ack' }
  /** Settled elsewhere (copied to a DLQ): never deliver again. */
  | { readonly kind: 'terminate' }
  /** Not processed: deliver again to this group after `delayMs`. */
  | { readonly kind: 'redeliver'; readonly delayMs: number };

/** The settle of a handler that resolved. */
export const ACK: Settle = Object.freeze({ kind: 'ack' });
const TERMINATE: Settle = Object.freeze({ kind: 'terminate' });

/** The settle a handler's rejection asks for; any other error waits `redeliveryDelayMs`. */
export function settleOfRejection(err: unknown, redeliveryDelayMs: number): Settle {
  if (err instanceof DeliveryTerminated) return TERMINATE;
  return { kind: 'redeliver', delayMs: err instanceof RedeliverAfter ? err.delayMs : redeliveryDelayMs };
}

/** Run the handler (a synchronous throw counts as a rejection) and resolve with its settle; never rejects. */
export function settleOf(handler: DeliveryHandler, delivery: Delivery, redeliveryDelayMs: number): Promise<Settle> {
  return callHandler(handler, delivery).then(toAck, rejectionMapper(redeliveryDelayMs));
}

const toAck = (): Settle => ACK;

/** The rejection callback of the last `redeliveryDelayMs` used: a subscription's deliveries share one. */
let lastRejection: { readonly delayMs: number; readonly map: (err: unknown) => Settle } | undefined;

function rejectionMapper(redeliveryDelayMs: number): (err: unknown) => Settle {
  if (lastRejection?.delayMs !== redeliveryDelayMs) {
    lastRejection = { delayMs: redeliveryDelayMs, map: (err: unknown) => settleOfRejection(err, redeliveryDelayMs) };
  }
  return lastRejection.map;
}

/** Subscribe options with every default filled in. */
export interface ResolvedSubscribeOptions {
  readonly group: string;
  readonly maxInFlight: number;
  readonly ackTimeoutMs: number;
  readonly redeliveryDelayMs: number;
  readonly ordering: Ordering;
}

/** The defaults of {@link SubscribeOptions}, the same on every bus. */
export const SUBSCRIBE_DEFAULTS = Object.freeze({ maxInFlight: 16, ackTimeoutMs: 30_000, redeliveryDelayMs: 1_000, ordering: 'key' as Ordering });

const ORDERINGS: readonly Ordering[] = ['key', 'partition', 'none'];

function integer(field: string, value: number | undefined, dflt: number, min: number): number {
  const n = value ?? dflt;
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`subscribe option ${field} must be an integer >= ${min}, got ${String(value)}`);
  return n;
}

/**
 * Check subscribe options and fill in defaults; throws an {@link InvalidArgumentError} naming
 * the bad option. `defaults` lets a bus take a default from its own options (NATS: the
 * configured `defaultAckTimeoutMs`); `groupPattern` restricts group names where the broker does.
 */
export function resolveSubscribeOptions(
  o: SubscribeOptions | undefined,
  defaults: Partial<Omit<ResolvedSubscribeOptions, 'group'>> = {},
  groupPattern?: RegExp,
): ResolvedSubscribeOptions {
  if (!o || typeof o.group !== 'string' || o.group.trim() === '' || (groupPattern && !groupPattern.test(o.group))) {
    const rule = groupPattern ? ` matching ${String(groupPattern)}` : '';
    throw new InvalidArgumentError(`subscribe options need a non-empty consumer group${rule}, got ${JSON.stringify(o?.group)}`);
  }
  const d = { ...SUBSCRIBE_DEFAULTS, ...defaults };
  const ordering = o.ordering ?? d.ordering;
  if (!ORDERINGS.includes(ordering)) {
    throw new InvalidArgumentError(`subscribe option ordering must be 'key', 'partition' or 'none', got ${String(o.ordering)}`);
  }
  return {
    group: o.group,
    maxInFlight: integer('maxInFlight', o.maxInFlight, d.maxInFlight, 1),
    ackTimeoutMs: integer('ackTimeoutMs', o.ackTimeoutMs, d.ackTimeoutMs, 1),
    redeliveryDelayMs: integer('redeliveryDelayMs', o.redeliveryDelayMs, d.redeliveryDelayMs, 0),
    ordering,
  };
}
