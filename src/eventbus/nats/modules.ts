/** The lazily loaded NATS client modules: optional peers, imported only when a NATS bus is made. */
import { NotInitializedError } from '../../errors.js';

/** `@nats-io/transport-node`. */
export type TransportModule = typeof import('@nats-io/transport-node');
/** `@nats-io/jetstream`. */
export type JetStreamModule = typeof import('@nats-io/jetstream');

/** Import the client modules, or say which peers to install. */
export async function loadModules(): Promise<{ transport: TransportModule; jsmod: JetStreamModule }> {
  try {
    const [transport, jsmod] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
    return { transport, jsmod };
  } catch (err) {
    throw new NotInitializedError(
      'jobbus/nats needs its optional peer dependencies: npm install @nats-io/transport-node @nats-io/jetstream @nats-io/nats-core @nats-io/kv',
      { cause: err },
    );
  }
}
