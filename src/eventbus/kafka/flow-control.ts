/**
 * Flow control of a subscription: the in-flight cap and the drain waits.
 *
 * At the cap, a batch waits (heartbeating) instead of returning: kafkajs fetches again only
 * after every batch of the previous fetch returned, so waiting there *is* the pause, with no
 * fetch-loop sleep before the resume (a consumer.pause()/resume() cycle costs up to one
 * maxWaitTime per refill), and only this member's own heartbeat runs while it waits: the
 * rebalance hook (onRevoke) sees every rebalance that happens at the cap. The offset span, in
 * contrast, is per partition (fetch-loop.ts): a partition at its span bound is paused
 * (consumer.pause), so one stuck message stalls only its own partition.
 *
 * Waiters: a batch parked at the cap (woken by a refill's worth of free slots, its heartbeat
 * tick, or close), and a revoke or close waiting for running handlers (woken when none runs, or
 * at its timeout). Nothing else is stateful here.
 */
import type { PartitionState } from './partition.js';
import type { BatchControl } from './port.js';

/** What flow control reads from the subscription. */
export interface FlowControlDeps {
  readonly maxInFlight: number;
  /** How often a batch waiting at the cap heartbeats. */
  readonly heartbeatTickMs: number;
  /** Admitted, not settled. */
  readonly unsettled: () => number;
  /** Handlers running now. */
  readonly running: () => number;
  /** May a batch of `ps` still admit records (active, assigned, not closing)? */
  readonly admitting: (control: BatchControl, ps: PartitionState) => boolean;
}

/** The cap and drain waits of one subscription. */
export interface FlowControl {
  /** Wait (heartbeating) until a slot is free; false when the batch must stop admitting instead. */
  waitForCapacity(control: BatchControl, ps: PartitionState): Promise<boolean>;
  /** Wake batches at the cap once a refill's worth of slots is free (`force`: at once, closing). */
  notifyCapacity(force?: boolean): void;
  /** A slot was freed or a handler stopped running. */
  onSlotFreed(): void;
  /** Resolve once no handler runs, or after `timeoutMs`. */
  waitForRunning(timeoutMs: number): Promise<void>;
}

/** Park until `waiters` wakes us or `timeoutMs` passes. */
function park(waiters: Set<() => void>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    // Anonymous functions only: a named closure costs a name definition per park under
    // esbuild's keepNames (tsx), and this runs for every refill at the in-flight cap.
    const waiter: { wake?: () => void } = {};
    const timer = setTimeout(() => waiter.wake!(), timeoutMs);
    const wake = (waiter.wake = () => {
      clearTimeout(timer);
      waiters.delete(wake);
      resolve();
    });
    waiters.add(wake);
  });
}

/** Create the flow control of a subscription. */
export function createFlowControl(d: FlowControlDeps): FlowControl {
  const capacityWaiters = new Set<() => void>();
  const drainWaiters = new Set<() => void>();
  // Hysteresis: a batch waiting at the cap is woken when a refill's worth of slots is free, not
  // on every settle (each wake costs a promise, a timer and a heartbeat call).
  const refill = Math.max(1, Math.floor(d.maxInFlight / 8));

  const notifyCapacity = (force = false): void => {
    if (!force && d.unsettled() > d.maxInFlight - refill) return;
    for (const w of capacityWaiters) w();
  };

  return {
    async waitForCapacity(control, ps) {
      while (d.unsettled() >= d.maxInFlight) {
        if (!d.admitting(control, ps)) return false;
        await park(capacityWaiters, d.heartbeatTickMs);
        await control.heartbeat();
      }
      return d.admitting(control, ps);
    },
    notifyCapacity,
    onSlotFreed() {
      notifyCapacity();
      if (d.running() === 0) for (const w of drainWaiters) w();
    },
    async waitForRunning(timeoutMs) {
      if (d.running() === 0) return;
      await park(drainWaiters, timeoutMs);
    },
  };
}
