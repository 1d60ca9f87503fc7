/**
 * Keeps an idempotent producer from acknowledging records it never stored.
 *
 * An idempotent producer numbers each partition's records; the broker takes a batch whose
 * sequence range matches one of the producer's last five batches as a duplicate and answers
 * "stored" without comparing contents. When a send fails after the broker stored it (its reply
 * lost, the request timed out), kafkajs 2.2 rolls its sequence back and @platformatic/kafka 1.35
 * never advanced it: the next send numbers *different* records from the same sequence, and the
 * broker acknowledges them without storing them (same record count: jobs lost) or refuses every
 * later send with OUT_OF_ORDER_SEQUENCE_NUMBER (another count: the producer wedged). Concurrent
 * sends share the hazard (a send queued behind the failed one takes its numbers), and
 * @platformatic/kafka numbers concurrent sends from the same sequence even without a failure.
 *
 * So sends go one at a time, and after a failed send the next one runs on a new producer: a new
 * producer id, whose sequences the broker has no history of. The failed send's records may have
 * been stored; its caller was told so (a retryable error), and a retry may store them twice:
 * at least once, never lost.
 *
 *   OPEN(p) --send fails--> STALE(p) --next send: close p (not awaited), open p'--> OPEN(p')
 *   STALE --opening fails (that send rejects)--> STALE       any --disconnect--> CLOSED
 */
import type { ProduceRecord, ProducerPort } from './port.js';

/**
 * Wrap the driver's connected idempotent producer `first`; `open` connects a fresh one (same
 * settings) when a send failed. The result is the bus's producer for its whole life.
 */
export function guardIdempotentProducer(first: ProducerPort, open: () => Promise<ProducerPort>): ProducerPort {
  let current: ProducerPort | undefined = first;
  let stale = false;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  const usable = async (): Promise<ProducerPort> => {
    if (closed) throw new Error('the Kafka producer was disconnected (the bus is closed)');
    if (!stale && current) return current;
    const old = current;
    current = undefined;
    // The old producer has nothing in flight (sends are serial); its close must not hold up the send.
    void old?.disconnect().catch(() => undefined);
    current = await open();
    stale = false;
    return current;
  };

  const sendNow = async (topic: string, records: readonly ProduceRecord[]): Promise<void> => {
    const p = await usable();
    try {
      await p.send(topic, records);
    } catch (err) {
      stale = true;
      throw err;
    }
  };

  /** Run `fn` after everything queued before it; a failure does not stop the queue. */
  const queued = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };

  return {
    send: (topic, records) => queued(() => sendNow(topic, records)),
    // Sends queued before the disconnect still go out; later ones reject.
    disconnect: () =>
      queued(async () => {
        closed = true;
        const p = current;
        current = undefined;
        await p?.disconnect();
      }),
  };
}
