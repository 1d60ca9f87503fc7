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
  // By dot positions rather than split('.'): one per delivered message, and only three tokens matter.
  let tokens = 1;
  if (reply !== undefined) for (let i = reply.indexOf('.'); i >= 0; i = reply.indexOf('.', i + 1)) tokens++;
  const at = tokens === 9 ? 4 : tokens >= 11 ? 6 : -1;
  if (reply === undefined || at < 0) return { deliveryCount: 1, seq: 0, storedAt: 0 };
  let start = 0;
  for (let k = 0; k < at; k++) start = reply.indexOf('.', start) + 1;
  const end1 = reply.indexOf('.', start);
  const end2 = reply.indexOf('.', end1 + 1);
  const end3 = reply.indexOf('.', end2 + 1);
  const tsStart = end3 + 1;
  const tsEnd = reply.indexOf('.', tsStart);
  return {
    deliveryCount: Number(reply.slice(start, end1)) || 1,
    seq: Number(reply.slice(end1 + 1, end2)) || 0,
    storedAt: Math.floor(Number(tsEnd < 0 ? reply.slice(tsStart) : reply.slice(tsStart, tsEnd)) / 1_000_000) || 0,
  };
}

/** Milliseconds as nanoseconds (the API's durations). */
export function nanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}
