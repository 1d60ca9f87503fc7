/**
 * The JetStream consumer protocol bits a subscriber speaks: ack bodies and ack-subject parsing.
 */

/** Shared encoder of protocol bodies. */
export const te = new TextEncoder();
/** Acknowledge. */
export const ACK = te.encode('+ACK');
/**
 * "Deliver again now". Never a bare `-NAK`: on server 2.9.10 a burst of bare naks (a closing
 * subscriber releasing what it holds) made the consumer lose track of a message — neither
 * pending nor ack-pending, never redelivered (reproduced: 4 naks, 1 job gone, ack floor stuck).
 * With an explicit 1 ms delay every message comes back. See test/nats/bus.test.ts. (A closing
 * subscriber releases with a longer delay: see its close().)
 */
export const NAK = te.encode(`-NAK {"delay":${1_000_000}}`);
/** Work in progress: restart the ack wait. */
export const WPI = te.encode('+WPI');
/** Terminate: never redeliver (raises the MSG_TERMINATED advisory). */
export const TERM = te.encode('+TERM');
/**
 * Delivery count, stream sequence and store time (epoch ms) from a JetStream ack subject:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts ns>.<pending>` or the newer
 * form with `<domain>.<account hash>` after `$JS.ACK` (and a trailing token).
 */
export function parseAckSubject(reply: string | undefined): { deliveryCount: number; seq: number; storedAt: number } {
  const t = reply?.split('.') ?? [];
  const at = t.length === 9 ? 4 : t.length >= 11 ? 6 : -1;
  if (at < 0) return { deliveryCount: 1, seq: 0, storedAt: 0 };
  return { deliveryCount: Number(t[at]) || 1, seq: Number(t[at + 1]) || 0, storedAt: Math.floor(Number(t[at + 3]) / 1_000_000) || 0 };
}

/** Milliseconds as nanoseconds (the API's durations). */
export function nanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}
