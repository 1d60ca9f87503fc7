/**
 * A chaos target on a broker process of the suite's own (never the shared services), for the
 * scenarios that kill, stop or cut off the broker. With `proxied`, the workers reach the broker
 * only through a TCP proxy (Kafka advertises the proxy's port on its client listener, so every
 * connection after the bootstrap goes through it too) while the producer and the DLQ reader
 * connect directly.
 */
import { startOwnKafka, startOwnNats, type OwnBroker } from '../infra/own-brokers.js';
import { stablePort } from '../infra/own-process.js';
import { startTcpProxy, type TcpProxy } from '../infra/tcp-proxy.js';
import { kafkaTarget, natsTarget, type ChaosTarget } from './target.js';

/** A target, its broker, maybe a proxy in front of it. */
export interface OwnTarget {
  readonly target: ChaosTarget;
  readonly broker: OwnBroker;
  readonly proxy?: TcpProxy;
  /** Close the target, the proxy, and destroy the broker (its data too). */
  close(): Promise<void>;
}

/** Start an own broker of `kind` (and a proxy in front of it when `proxied`) and a target on it. */
export async function ownTarget(kind: 'kafka' | 'nats', o: { proxied?: boolean } = {}): Promise<OwnTarget> {
  let proxy: TcpProxy | undefined;
  let broker: OwnBroker | undefined;
  try {
    if (kind === 'kafka') {
      const proxyPort = o.proxied ? await stablePort() : undefined;
      const k = await startOwnKafka({ numPartitions: 6, ...(proxyPort !== undefined && { advertisedPort: proxyPort }) });
      broker = k;
      if (proxyPort !== undefined) proxy = await startTcpProxy({ target: k.listenAddress, port: proxyPort });
      // The INTERNAL listener is direct: a client bootstrapped there is told direct addresses.
      const target = await kafkaTarget({ brokers: [k.address], directBrokers: [k.internalAddress] });
      return own(target, k, proxy);
    }
    const n = await startOwnNats();
    broker = n;
    if (o.proxied) proxy = await startTcpProxy({ target: n.listenAddress });
    const target = await natsTarget({ servers: proxy ? `nats://${proxy.address}` : n.url, directServers: n.url });
    return own(target, n, proxy);
  } catch (err) {
    await proxy?.close();
    await broker?.destroy();
    throw err;
  }
}

function own(target: ChaosTarget, broker: OwnBroker, proxy: TcpProxy | undefined): OwnTarget {
  return {
    target,
    broker,
    ...(proxy && { proxy }),
    async close() {
      await target.close().catch(() => undefined);
      await proxy?.close();
      await broker.destroy();
    },
  };
}
