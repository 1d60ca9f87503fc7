/**
 * After an outage the subscriber resumes as soon as the connection is back: a consumer loop that
 * went into recovery during the outage (heartbeats missed, backed off to seconds, a lookup sent
 * into the dead connection) retries at once on reconnect. Found by chaos scenario 4: workers
 * resumed 3-13 s after the connections healed. Own nats-server behind a TCP proxy that cuts the
 * client's connections (test/chaos/infra).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsEventBus, type NatsEventBus } from '../../src/eventbus/nats/index.js';
import { startOwnNats, type OwnNats } from '../chaos/infra/own-brokers.js';
import { startTcpProxy, type TcpProxy } from '../chaos/infra/tcp-proxy.js';
import { elapse, waitFor } from '../support/wait.js';

describe('NATS reconnect', () => {
  let server: OwnNats;
  let proxy: TcpProxy;
  const buses: NatsEventBus[] = [];
  beforeAll(async () => {
    server = await startOwnNats();
    proxy = await startTcpProxy({ target: server.listenAddress });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(buses.map((b) => b.close()));
    await proxy?.close();
    await server?.destroy();
  });

  it('a subscriber cut off for 8 s consumes again within 2 s of the connection healing', async () => {
    const opts = { subjectPrefix: 'r', streamPrefix: 'R' };
    const consumer = await createNatsEventBus({ servers: `nats://${proxy.address}`, ...opts });
    const producer = await createNatsEventBus({ servers: server.url, ...opts });
    buses.push(consumer, producer);
    const got: number[] = [];
    await consumer.subscribe('q', async () => void got.push(Date.now()), { group: 'g' });
    const send = (): Promise<void> => producer.publish('q', { value: new TextEncoder().encode('v'), headers: {} });
    await send();
    await waitFor(() => got.length === 1, 'the first message');
    proxy.cut();
    await elapse(8_000); // long enough for the loop to miss heartbeats and back off
    await send();
    proxy.heal();
    const healedAt = Date.now();
    await waitFor(() => got.length === 2, 'the message sent during the cut', 15_000);
    expect(got[1]! - healedAt).toBeLessThan(2_000);
  }, 45_000);
});
