/**
 * What a `RuntimeHandler` may reject with to steer its delivery, in the contract's own
 * words. A plain rejection (any other error) has the job redelivered after the runtime's
 * default delay. The runtime over a bus (the bridge) alone translates these into the bus's
 * signals; a layer above it never speaks to the bus.
 */

/** Reject a delivery with this to have the job delivered again after `delayMs` (0: at once). */
export class RedeliverJob extends Error {
  /** Wait before the next delivery, ms (whole, never negative). */
  readonly delayMs: number;

  constructor(delayMs: number, reason = `redeliver in ${delayMs} ms`) {
    super(reason);
    this.name = 'RedeliverJob';
    this.delayMs = Math.max(0, Math.ceil(delayMs));
  }
}

/**
 * Reject a delivery with this when the job was settled by other means (its dead-letter copy
 * was published): the delivered message must never be delivered again.
 */
export class JobSettledElsewhere extends Error {
  constructor(reason = 'settled elsewhere') {
    super(reason);
    this.name = 'JobSettledElsewhere';
  }
}
