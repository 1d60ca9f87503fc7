/**
 * A private Kafka (test/chaos/infra/own-kafka.ts) that clients reach only through a TCP proxy
 * (it advertises the proxy's port), and a bus of the test driver on it: for the Kafka tests that
 * cut, stall or drop replies between the client and the broker.
 */
import { createKafkaEventBus, type KafkaEventBus, type KafkaEventBusOptions } from '../../src/eventbus/kafka/index.js';
import { startOwnKafka, type OwnKafka } from '../chaos/infra/own-kafka.js';
import { stablePort } from '../chaos/infra/own-process.js';
import { startTcpProxy, type TcpProxy } from '../chaos/infra/tcp-proxy.js';
import { testDriver } from './driver.js';

/** The broker, the proxy in front of it, and a bus through the proxy. */
export interface ProxiedKafka {
  readonly kafka: OwnKafka;
  readonly proxy: TcpProxy;
  readonly bus: KafkaEventBus;
  /** Heal the proxy, close the bus and the proxy, destroy the broker. */
  close(): Promise<void>;
}

/** Start the broker and the proxy (seeing client bytes through `onClientData`), then a bus with `options` (driver and brokers set here). */
export async function startProxiedKafka(
  options: Omit<KafkaEventBusOptions, 'brokers' | 'driver'>,
  onClientData?: (connection: number, chunk: Buffer) => void,
): Promise<ProxiedKafka> {
  const proxyPort = await stablePort();
  const kafka = await startOwnKafka({ advertisedPort: proxyPort });
  let proxy: TcpProxy | undefined;
  try {
    proxy = await startTcpProxy({ target: kafka.listenAddress, port: proxyPort, ...(onClientData && { onClientData }) });
    const bus = await createKafkaEventBus({ ...options, driver: testDriver(), brokers: [kafka.address] });
    const p = proxy;
    return {
      kafka,
      proxy: p,
      bus,
      async close() {
        p.heal();
        await bus.close();
        await p.close();
        await kafka.destroy();
      },
    };
  } catch (err) {
    await proxy?.close();
    await kafka.destroy();
    throw err;
  }
}
