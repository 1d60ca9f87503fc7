/** createJobbus({ status }) on NATS, its records in a NATS KV bucket. */
import { afterAll } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createNatsKvStatusStore } from '../../src/index.js';
import { natsScope, natsUrl, uniqueName } from '../nats/helpers.js';
import { statusFaceCases } from './face-cases.js';

const scope = natsScope('status-face');
let nc: NatsConnection | undefined;
let buckets = 0;
afterAll(async () => {
  await nc?.close();
  await scope.cleanup();
});

statusFaceCases('NATS', {
  makeBus: () => scope.bus(),
  makeStore: async () => {
    nc ??= await connect({ servers: natsUrl() });
    return createNatsKvStatusStore({ connection: nc, bucket: `${scope.streamPrefix}_status_${++buckets}`, ttlMs: 60_000 });
  },
  queue: (p) => uniqueName(`status-${p}`),
  arrivalMs: 10_000,
});
