/**
 * A job held by the backend, and the only functions that move it between states. The bus
 * subscription's callback for it stays pending until the job is settled, which is what makes
 * the transport keep (and not redeliver) it.
 *
 *   buffered --reserve--> leased --ack/nack/moveToDLQ--> settling --copy stored--> settled (callback resolves)
 *      |                   |  ^--copy refused for good--'   `--publish failed--> settled (rejects: handed back)
 *      |                   `--lease expires / release / close--> settled (callback rejects: redelivered)
 *      |--taken back by the bus / detach / close--------------> settled (callback rejects: redelivered)
 *      `--redelivered with its settle copy pending--> settling (the handler does not run again)
 *
 * `settled` is final; settling twice is a no-op (a lease may expire while its ack is on the way).
 */
import { ConflictError } from '../errors.js';
import type { DeliveryContext, Job, Lease } from '../jobs/types.js';

/** Where a held job is; see the diagram above. */
export type HeldState = 'buffered' | 'leased' | 'settling' | 'settled';

/** A job held by the backend. Its state changes only through the transitions below. */
export interface Held {
  readonly queue: string;
  readonly job: Job;
  readonly deliveryCount: number;
  /**
   * The bus delivery's context, kept to call its `working()` when due (not `working` read off
   * it per job: a bus may build that function only when asked).
   */
  readonly delivery: Pick<DeliveryContext, 'working'>;
  readonly signal: AbortSignal | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  state: HeldState;
  /** Set when first leased. */
  token?: string;
  /** The lease table's number for it, set with the token (a number key is cheaper to hash than the token). */
  leaseSeq?: number;
  /** When the lease lapses, epoch ms (while leased). */
  expiresAt?: number;
}

/** Move `held` to `to`, asserting it is in one of `from` (anything else is a bug here). */
function move(held: Held, from: readonly HeldState[], to: HeldState): void {
  if (!from.includes(held.state)) {
    throw new ConflictError(`job ${held.job.id} cannot become ${to}: it is ${held.state} (expected ${from.join(' or ')})`);
  }
  held.state = to;
}

// The states each transition starts from, built once (a literal in each call cost every job an array per transition).
const FROM_BUFFERED: readonly HeldState[] = ['buffered'];
const FROM_LEASED_OR_BUFFERED: readonly HeldState[] = ['leased', 'buffered'];
const FROM_SETTLING: readonly HeldState[] = ['settling'];

/** buffered → leased, under `token` until `expiresAt`. */
export function enterLeased(held: Held, token: string, expiresAt: number): void {
  move(held, FROM_BUFFERED, 'leased');
  held.token = token;
  held.expiresAt = expiresAt;
}

/** leased (claimed by a settle) or buffered (its copy pending from an earlier try) → settling. */
export function enterSettling(held: Held): void {
  move(held, FROM_LEASED_OR_BUFFERED, 'settling');
}

/** settling → leased again until `expiresAt`: the settle gave up and the caller may settle another way. */
export function backToLeased(held: Held, expiresAt: number): void {
  move(held, FROM_SETTLING, 'leased');
  held.expiresAt = expiresAt;
}

/** Any state → settled; false (and nothing changes) when it was settled already. */
export function enterSettled(held: Held): boolean {
  if (held.state === 'settled') return false;
  held.state = 'settled';
  return true;
}

/** A reserve call waiting for a job of one of `queues`. */
export interface Waiter {
  readonly queues: readonly string[];
  readonly resolve: (held: Held | undefined) => void;
}

/** A lease handed out by reserve/renew; `expiresAt` becomes a Date only when read. */
export class HeldLease implements Lease {
  // Private (#): a logged or compared lease shows what it always showed.
  readonly #seq: number;

  constructor(
    readonly token: string,
    readonly job: Job,
    readonly queue: string,
    private readonly expiresAtMs: number,
    readonly deliveryCount: number,
    seq: number,
  ) {
    this.#seq = seq;
  }

  get expiresAt(): Date {
    return new Date(this.expiresAtMs);
  }

  /** The lease table's number of `lease` (its held job's {@link Held.leaseSeq} when it was made). */
  static seqOf(lease: HeldLease): number {
    return lease.#seq;
  }
}

/** The lease of `held` as it stands (token and expiry). */
export function leaseOf(held: Held): Lease {
  return new HeldLease(held.token!, held.job, held.queue, held.expiresAt!, held.deliveryCount, held.leaseSeq ?? -1);
}
