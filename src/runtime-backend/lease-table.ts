/**
 * The leases of one backend by token, and the one sweep that expires them: a single interval
 * (every LEASE_SWEEP_MS, the precision of lease expiry) instead of a timer per lease.
 *
 *   idle --a lease is handed out--> sweeping --the table is empty at a sweep--> idle
 *
 * A job is on the table while leased; a settle claims it off the table before any await, so
 * two settles (or a settle and the sweep) cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { LeaseExpiredError } from '../errors.js';
import type { Lease } from '../jobs/types.js';
import { backToLeased, enterLeased, enterSettling, HeldLease, leaseOf, type Held } from './held.js';

/** How often expired leases are looked for, ms: the precision of lease expiry. */
export const LEASE_SWEEP_MS = 25;

/** The lease table of one backend. */
export interface LeaseTable {
  /** Lease a buffered job for `leaseForMs`. */
  lease(held: Held, leaseForMs: number): Lease;
  /** Extend a held lease to `leaseForMs` from now; LeaseExpiredError when it is gone. */
  renew(lease: Lease, leaseForMs: number): Lease;
  /** Take a leased job off the table to settle it (`op` names the settle for the error); LeaseExpiredError when it is gone. */
  claim(lease: Lease, op: string): Held;
  /** Put a claimed job back, leased until at least `untilMs`, for the caller to settle another way. */
  restore(held: Held, untilMs: number): void;
  /** The leased job of `lease` (by its token), if it still is. */
  find(lease: Lease): Held | undefined;
  /** A settled job leaves the table. */
  forget(held: Held): void;
  /** Every leased job. */
  all(): IterableIterator<Held>;
  /** Whether a job of `queue` is leased. */
  hasQueue(queue: string): boolean;
  /** Leases held. */
  readonly size: number;
  /** Stop the sweep (close). */
  stop(): void;
}

/** Create a lease table; `expired` gets each job whose lease lapsed, to settle it (hand it back). */
export function createLeaseTable(expired: (held: Held) => void): LeaseTable {
  // By lease number (Held.leaseSeq): a small integer key costs no string hashing per job.
  const leases = new Map<number, Held>();
  let sweep: NodeJS.Timeout | undefined;
  // Lease tokens only need to be unique within this backend: a random prefix and a counter
  // (the lease number, base 36).
  const tokenPrefix = `${randomBytes(6).toString('hex')}-`;
  let tokenSeq = 0;

  /**
   * The leased job whose token `lease` carries, if it still is. A lease made here knows its
   * number; any other (a copy, another backend's) is looked up by the number its token spells,
   * and the token must match either way.
   */
  function lookup(lease: Lease): Held | undefined {
    let seq: number;
    if (lease instanceof HeldLease) seq = HeldLease.seqOf(lease);
    else {
      const token: unknown = lease.token;
      if (typeof token !== 'string' || !token.startsWith(tokenPrefix)) return undefined;
      seq = parseInt(token.slice(tokenPrefix.length), 36);
    }
    const held = leases.get(seq);
    return held !== undefined && held.token === lease.token ? held : undefined;
  }

  function sweepExpired(): void {
    const now = Date.now();
    for (const held of leases.values()) {
      if (held.expiresAt !== undefined && now >= held.expiresAt) expired(held);
    }
    if (leases.size === 0 && sweep) {
      clearInterval(sweep);
      sweep = undefined;
    }
  }

  function put(held: Held): void {
    leases.set(held.leaseSeq!, held);
    sweep ??= setInterval(sweepExpired, LEASE_SWEEP_MS);
  }

  return {
    lease(held, leaseForMs) {
      const seq = ++tokenSeq;
      enterLeased(held, tokenPrefix + seq.toString(36), Date.now() + leaseForMs);
      held.leaseSeq = seq;
      put(held);
      return leaseOf(held);
    },

    renew(lease, leaseForMs) {
      const held = lookup(lease);
      if (!held || held.state !== 'leased') {
        throw new LeaseExpiredError(lease.job.id, `cannot renew job ${lease.job.id}: its lease expired or was settled`);
      }
      held.delivery.working();
      held.expiresAt = Date.now() + leaseForMs;
      return leaseOf(held);
    },

    claim(lease, op) {
      const held = lookup(lease);
      if (!held || held.state !== 'leased') {
        const id = lease.job.id;
        throw new LeaseExpiredError(id, `cannot ${op} job ${id}: its lease expired or was settled already; the job is redelivered`);
      }
      leases.delete(held.leaseSeq!);
      enterSettling(held);
      return held;
    },

    restore(held, untilMs) {
      backToLeased(held, Math.max(held.expiresAt ?? 0, untilMs));
      put(held);
    },

    find: (lease) => lookup(lease),
    forget: (held) => void (held.leaseSeq !== undefined && leases.delete(held.leaseSeq)),
    all: () => leases.values(),
    hasQueue: (queue) => [...leases.values()].some((h) => h.queue === queue),
    get size() {
      return leases.size;
    },
    stop() {
      if (sweep) clearInterval(sweep);
      sweep = undefined;
    },
  };
}
