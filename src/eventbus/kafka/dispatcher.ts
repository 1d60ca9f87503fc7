/**
 * The dispatcher of a subscription: the life of one admitted message (Entry, partition.ts) from
 * WAITING behind its ordering lane to RUNNING in the handler, RETRYING after a rejection, and
 * DONE (settled, or dropped because its partition went away). Knows nothing about fetching or
 * commits: it reports settles through its callbacks.
 */
import { setMaxListeners } from 'node:events';
import { describeError } from '../../errors.js';
import type { Delivery, DeliveryHandler, Message, Ordering } from '../types.js';
import { callHandler } from '../call-handler.js';
import { ACK, settleOfRejection, type Settle } from '../delivery.js';
import { createPartitionedLanes, laneInPartition, type PartitionedLanes } from '../lanes.js';
import type { KafkaBusLogger } from './options.js';
import { SlotList } from '../slot-list.js';
import type { Entry, PartitionState } from './partition.js';
import type { ConsumedRecord } from './port.js';
import { DUE_AT_HEADER, recordToMessage } from './wire.js';

/** What the dispatcher needs. */
export interface DispatcherDeps {
  readonly topic: string;
  readonly handler: DeliveryHandler;
  readonly ordering: Ordering;
  readonly ackTimeoutMs: number;
  readonly redeliveryDelayMs: number;
  readonly inMemoryRedeliveryMaxMs: number;
  /** Persist a redelivery through the delay topics (for long RedeliverAfter delays). */
  readonly republishLater: (message: Message, deliverAt: Date) => Promise<void>;
  readonly logger: KafkaBusLogger | undefined;
  readonly isClosing: () => boolean;
  /** The committable offset of `ps` moved. */
  readonly onHeadMoved: (ps: PartitionState) => void;
  /** An offset behind the committable one settled (only the commit metadata changed). */
  readonly onMetadataChanged: () => void;
  /** An unsettled slot was freed or a handler stopped running. */
  readonly onSlotFreed: () => void;
}

/** The dispatcher of one subscription. */
export interface Dispatcher {
  /** Entries whose handler runs now (the handler promise has not settled). */
  readonly running: { readonly size: number } & Iterable<Entry>;
  /** Entries waiting for a redelivery timer or a persisted redelivery. */
  readonly retrying: ReadonlySet<Entry>;
  /** Waiting entries behind their lanes. */
  readonly lanes: PartitionedLanes<Entry>;
  /** Admitted, not settled. */
  unsettled(): number;
  /** Admit a fetched record of `ps` (already tracked): runs it now or queues it behind its lane. */
  admit(ps: PartitionState, r: ConsumedRecord): void;
  /** Run `e` if its partition dispatches, hold it while the partition is held, drop it when revoked/closing. */
  dispatch(e: Entry): void;
  /** Forget an entry that will not run (partition revoked or subscription closing). */
  drop(e: Entry): void;
  /** Redeliver handlers that neither settled nor called working() within ackTimeoutMs. */
  sweepAckDeadlines(): void;
  /** Abort the signals of the deliveries handed out for `ps` (all partitions when undefined). */
  abortDeliveries(ps?: PartitionState): void;
}

/**
 * Remove the due-time header of a message that reached its topic early (a delay shorter than
 * the smallest tier, see tiers.ts) and return the due time; undefined when there is none.
 */
function takeDueAt(message: Message): number | undefined {
  const raw = message.headers?.[DUE_AT_HEADER];
  if (raw === undefined) return undefined;
  delete (message.headers as Record<string, string>)[DUE_AT_HEADER];
  const due = Number(raw);
  return Number.isFinite(due) ? due : undefined;
}

/** Handed to a delivery that is no longer running when its handler reads its signal. */
const ABORTED = AbortSignal.abort();
/**
 * Deliveries of a partition sharing one AbortController. One costs ~6 µs (an EventTarget, its
 * listener limit and the backend's one listener), so one per delivery is several % of the e2e
 * throughput, and one per 16 still ~0.4 µs per job; one per partition collects a listener per
 * delivery forever when consumers never remove theirs. A batch of this many keeps both small:
 * at most this many listeners of a careless consumer per controller, and the controller is
 * garbage once its deliveries are.
 */
const SIGNAL_SHARE = 256;

function sharedSignal(ps: PartitionState): AbortController {
  if (!ps.signals || ps.signalsHanded >= SIGNAL_SHARE) {
    ps.signals = new AbortController();
    setMaxListeners(0, ps.signals.signal); // bounded by SIGNAL_SHARE deliveries; Node warns past 10
    ps.signalsHanded = 0;
  }
  ps.signalsHanded++;
  return ps.signals;
}

/** What a {@link KafkaDelivery} reads of its dispatcher. */
interface DeliverySource {
  readonly topic: string;
  readonly ackTimeoutMs: number;
  readonly isClosing: () => boolean;
}

/** Broker coordinates of an entry, `topic/partition@offset`. */
const positionOf = (topic: string, e: Entry): string => `${topic}/${e.ps.partition}@${e.offset}`;

/**
 * The Delivery of run `run` of an entry. A class, not an object literal with getters and
 * closures: one small object per delivery, its accessors shared on the prototype (a literal
 * cost three closures, their context and two accessor pairs per message). `position` and
 * `signal` are built when read: most handlers never read them.
 */
class KafkaDelivery implements Delivery {
  readonly topic: string;
  readonly message: Message;
  readonly deliveryCount: number;
  // Private (#): a logged or inspected delivery shows what it always showed, not the entry.
  readonly #source: DeliverySource;
  readonly #entry: Entry;
  readonly #run: number;
  #signal: AbortSignal | undefined = undefined;
  #working: (() => void) | undefined = undefined;

  constructor(source: DeliverySource, entry: Entry, run: number) {
    this.topic = source.topic;
    this.message = entry.message;
    this.deliveryCount = entry.deliveryCount;
    this.#source = source;
    this.#entry = entry;
    this.#run = run;
  }

  get position(): string {
    return positionOf(this.topic, this.#entry);
  }

  /**
   * A function bound to this delivery, made when first read: `working` may be called
   * destructured (`const { working } = delivery`), and most handlers never call it.
   */
  get working(): () => void {
    return (this.#working ??= () => {
      const e = this.#entry;
      if (e.run === this.#run && e.state === 'running') e.ackDeadline = Date.now() + this.#source.ackTimeoutMs;
    });
  }

  /** Built when first read. A run that already ended, or whose partition stopped dispatching, gets an aborted signal. */
  get signal(): AbortSignal {
    if (!this.#signal) {
      const e = this.#entry;
      if (e.run === this.#run && e.state === 'running' && e.ps.status === 'assigned' && !this.#source.isClosing()) {
        e.abort = sharedSignal(e.ps);
        this.#signal = e.abort.signal;
      } else {
        this.#signal = ABORTED;
      }
    }
    return this.#signal;
  }
}

/** Create the dispatcher. */
export function createDispatcher(d: DispatcherDeps): Dispatcher {
  const lanes = createPartitionedLanes<Entry>();
  const running = new SlotList<Entry>();
  const retrying = new Set<Entry>();
  let unsettledCount = 0;

  const dispatch = (e: Entry): void => {
    if (e.ps.status === 'revoked' || d.isClosing()) drop(e);
    else if (e.ps.status === 'assigned' && e.ps.ready) start(e);
    else e.ps.held.push(e);
  };

  /** Forget an entry that will not run (partition revoked or subscription closing). */
  const drop = (e: Entry): void => {
    if (e.state === 'done') return;
    if (e.timer) clearTimeout(e.timer);
    retrying.delete(e);
    running.delete(e);
    e.state = 'done';
    e.run++;
    unsettledCount--;
    const next = lanes.release(e.ps.partition, e.lane);
    if (next) dispatch(next);
    d.onSlotFreed();
  };

  const finish = (e: Entry): void => {
    if (e.timer) clearTimeout(e.timer);
    running.delete(e);
    retrying.delete(e);
    e.state = 'done';
    unsettledCount--;
    if (e.ps.status !== 'revoked') {
      if (e.ps.tracker.settle(e.offset)) d.onHeadMoved(e.ps);
      else d.onMetadataChanged(); // only the metadata changed: written within the interval
    }
    const next = lanes.release(e.ps.partition, e.lane);
    if (next) dispatch(next);
    d.onSlotFreed();
  };

  /**
   * Run `e` again after `delayMs`, holding it (and its lane) in memory meanwhile. A redelivery
   * counts as a delivery; holding an early message until due does not.
   */
  const scheduleRetry = (e: Entry, delayMs: number, redelivery = true): void => {
    running.delete(e);
    d.onSlotFreed();
    e.state = 'retrying';
    retrying.add(e);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (e.state !== 'retrying') return;
      retrying.delete(e);
      if (redelivery) e.deliveryCount++;
      e.state = 'waiting';
      dispatch(e);
    }, delayMs);
  };

  /** The handler of run `run` of `e` settled (a settle of an earlier, abandoned run is ignored). */
  const onSettled = (e: Entry, run: number, settle: Settle): void => {
    if (e.run !== run || e.state !== 'running') return;
    // ack, or terminate: settled elsewhere (e.g. copied to the DLQ), committable like an ack.
    if (settle.kind === 'redeliver') redeliver(e, settle.delayMs);
    else finish(e);
  };

  /** Deliver `e` again after `delayMs`: in memory when short, through the delay topics when long. */
  const redeliver = (e: Entry, delayMs: number): void => {
    if (e.ps.status === 'revoked' || d.isClosing()) {
      // Not ours any more (or closing): the next owner delivers it again; holding it for the
      // delay would keep an in-flight slot for nothing (S4).
      drop(e);
      return;
    }
    if (delayMs <= d.inMemoryRedeliveryMaxMs) {
      scheduleRetry(e, delayMs);
      return;
    }
    // A long wait would pin memory and hold back the partition's commit: persist the wait in
    // the delay topics and count this copy as settled. (Its same-key successors may then run
    // before it: a long RedeliverAfter gives up key order for that message, by design.)
    running.delete(e);
    e.state = 'retrying';
    retrying.add(e);
    const run = e.run;
    d.republishLater(e.message, new Date(Date.now() + delayMs)).then(
      () => {
        if (e.run === run && e.state === 'retrying') finish(e);
      },
      (pubErr: unknown) => {
        d.logger?.warn({ topic: d.topic, err: describeError(pubErr) }, 'kafka: could not persist a redelivery; retrying in memory');
        if (e.run === run && e.state === 'retrying') {
          retrying.delete(e);
          scheduleRetry(e, d.redeliveryDelayMs);
        }
      },
    );
  };

  function start(e: Entry): void {
    if (e.dueAt !== undefined) {
      // Checked again when the timer fires: a timer can fire a millisecond before Date.now()
      // reaches its target.
      const early = e.dueAt - Date.now();
      if (early > 0) {
        scheduleRetry(e, early, false);
        return;
      }
      e.dueAt = undefined;
    }
    e.state = 'running';
    running.add(e);
    const run = ++e.run;
    e.ackDeadline = Date.now() + d.ackTimeoutMs;
    e.abort = undefined;
    // settleOf's mapping without its extra promise hop (one per message on the hot path).
    callHandler(d.handler, new KafkaDelivery(source, e, run)).then(
      () => onSettled(e, run, ACK),
      (err: unknown) => onSettled(e, run, settleOfRejection(err, d.redeliveryDelayMs)),
    );
  }

  // One sweep over the (at most maxInFlight) running entries instead of a timer per delivery.
  const sweepAckDeadlines = (): void => {
    const now = Date.now();
    for (const e of running) { // a snapshot: scheduleRetry removes from it
      if (e.state !== 'running' || now < e.ackDeadline) continue;
      // Presumed dead: the late settle of this run is ignored and the message delivered again.
      e.run++;
      d.logger?.warn({ topic: d.topic, position: positionOf(d.topic, e) }, 'kafka: handler neither settled nor called working() within ackTimeoutMs; redelivering');
      scheduleRetry(e, 0);
    }
  };

  const source: DeliverySource = { topic: d.topic, ackTimeoutMs: d.ackTimeoutMs, isClosing: d.isClosing };

  return {
    running,
    retrying,
    lanes,
    unsettled: () => unsettledCount,
    admit(ps, r) {
      let message: Message;
      try {
        message = recordToMessage(r);
      } catch {
        message = { value: new Uint8Array(0), headers: {} }; // unreachable in practice; never block the partition
      }
      const e: Entry = {
        ps,
        offset: r.offset,
        lane: laneInPartition(d.ordering, message.key), // lanes are kept per partition
        message,
        state: 'waiting',
        deliveryCount: 1,
        run: 0,
        timer: undefined,
        ackDeadline: 0,
        dueAt: takeDueAt(message),
        abort: undefined,
        slot: -1,
      };
      unsettledCount++;
      if (lanes.admit(ps.partition, e.lane, e)) start(e);
    },
    dispatch,
    drop,
    sweepAckDeadlines,
    abortDeliveries(ps) {
      for (const e of running) {
        if (!e.abort || (ps && e.ps !== ps)) continue;
        const ac = e.abort;
        e.abort = undefined;
        if (e.ps.signals === ac) e.ps.signals = undefined; // the next delivery gets a live one
        ac.abort();
      }
    },
  };
}
