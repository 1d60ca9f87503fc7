/**
 * The five-line start on NATS: the same as on the memory bus, with a NATS bus passed in.
 * Run with a broker at JOBBUS_NATS_URL (default nats://127.0.0.1:4222; nats-server -js):
 *   npx tsx examples/nats.ts
 */
import { createJobbus, payloadOf } from 'jobbus';
import { createNatsEventBus } from 'jobbus/nats';

const servers = process.env.JOBBUS_NATS_URL ?? 'nats://127.0.0.1:4222';
const queue = `emails-${process.pid}`;
let done!: () => void;
const handled = new Promise<void>((resolve) => (done = resolve));

const jobs = createJobbus({ bus: await createNatsEventBus({ servers }) });
const worker = jobs.worker({ queues: [queue], handlers: { welcome: async (job) => (console.log('welcome', payloadOf(job)), done()) } });
await worker.start();
await jobs.enqueue({ name: 'welcome', queue, payload: { to: 'ada@example.com' } });

await handled;
await jobs.close();
