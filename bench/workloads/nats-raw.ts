/**
 * The raw-driver leg on NATS JetStream: the encoded jobs (value + `job_*` headers, built before
 * the clock starts) published with plain `@nats-io/jetstream`, pipelined in batches of 500
 * awaiting every PubAck, and consumed by a durable pull consumer (`consume`, 1 000 messages
 * buffered) acking each message; clock from the first publish to the last message acked. Also
 * the stream cleanup of the NATS benchmarks.
 */
import { connect, headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { batches, encodedJobs, ratePerSecond } from './shared.js';

/** The NATS server of the benchmarks: JOBBUS_NATS_URL, default nats://127.0.0.1:4222. */
export const NATS_URL = process.env.JOBBUS_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Delete the streams whose names start with `prefix` (a bus's streams, and its `KV_<prefix>…` buckets). */
export async function deleteStreams(prefix: string): Promise<void> {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(name).catch(() => undefined);
  }
  await nc.close();
}

/**
 * Raw JetStream on stream `<tag>_RAW_<run>`: msgs/s. `noAsyncTraces` connects the client as
 * the adapter does (no Error with a stack per request).
 */
export async function rawJetStream(tag: string, run: string, n: number, noAsyncTraces: boolean): Promise<number> {
  const nc = await connect({ servers: NATS_URL, noAsyncTraces });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const suffix = `${run}_${noAsyncTraces ? 'nt' : 'd'}`;
  const stream = `${tag}_RAW_${suffix}`.toUpperCase();
  const subject = `${tag}.raw.${suffix}`;
  await jsm.streams.add({ name: stream, subjects: [subject] });
  try {
    await jsm.consumers.add(stream, { durable_name: 'raw', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get(stream, 'raw');
    let got = 0;
    const messages = await consumer.consume({ max_messages: 1_000 });
    const consumed = (async () => {
      for await (const m of messages) {
        m.ack();
        if (++got >= n) break;
      }
    })();
    const outgoing = encodedJobs(subject, n).map((m) => {
      const h: MsgHdrs = natsHeaders();
      for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
      return { body: m.value, headers: h };
    });
    const t0 = performance.now();
    for (const b of batches(outgoing)) await Promise.all(b.map((m) => js.publish(subject, m.body, { headers: m.headers })));
    await consumed;
    return ratePerSecond(n, t0, performance.now());
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}
