/**
 * The five-line start on Kafka: the same as on the memory bus, with a Kafka bus passed in.
 * Run with a broker at JOBBUS_KAFKA_BROKERS (`npm run brokers:up` starts one and prints it):
 *   npx tsx examples/kafka.ts
 */
import { createJobbus, payloadOf } from 'jobbus';
import { createKafkaEventBus } from 'jobbus/kafka';

const brokers = (process.env.JOBBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const queue = `emails-${process.pid}`;
let done!: () => void;
const handled = new Promise<void>((resolve) => (done = resolve));

const jobs = createJobbus({ bus: await createKafkaEventBus({ brokers }) });
const worker = jobs.worker({ queues: [queue], handlers: { welcome: async (job) => (console.log('welcome', payloadOf(job)), done()) } });
await worker.start();
await jobs.enqueue({ name: 'welcome', queue, payload: { to: 'ada@example.com' } });

await handled;
await jobs.close();
