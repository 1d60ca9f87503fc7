/**
 * Schema-validated job payloads through a Confluent-compatible schema registry, on Kafka: an
 * Avro schema registered on first enqueue, the payload in the registry wire format, an
 * invalid payload refused before anything is published, and a compatible new version.
 * Run with the brokers of `npm run brokers:up` (it prints JOBBUS_KAFKA_BROKERS and
 * JOBBUS_REGISTRY_URL; Apicurio serves the Confluent API at /apis/ccompat/v7):
 *   npx tsx examples/registry.ts
 */
import { createJobbus, createSchemaRegistry, defineJob, SchemaError } from 'jobbus';
import { createKafkaEventBus } from 'jobbus/kafka';

const brokers = (process.env.JOBBUS_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const host = process.env.JOBBUS_REGISTRY_URL ?? 'http://127.0.0.1:8081';
const queue = `signups-${process.pid}`;

interface Signup {
  email: string;
  plan: number;
}
const signupV1 = {
  type: 'record',
  name: 'Signup',
  namespace: 'com.example',
  fields: [
    { name: 'email', type: 'string' },
    { name: 'plan', type: 'int' },
  ],
};

let done!: () => void;
const handled = new Promise<void>((resolve) => (done = resolve));

// Subject `<queue>-value` (topic-name strategy); registered on first enqueue.
const signup = defineJob<Signup>({
  name: 'signup',
  queue,
  registry: { type: 'AVRO', schema: signupV1, mode: 'enforce' },
  handler: async ({ email, plan }, ctx) => {
    console.log('signup', { email, plan }, 'schema id', Buffer.from(ctx.job.payload).readInt32BE(1));
    done();
  },
});

const jobs = createJobbus({ bus: await createKafkaEventBus({ brokers }), schemaRegistry: { host } });
await jobs.worker({ definitions: [signup] }).start();

try {
  await jobs.enqueue(signup, { email: 'ada@example.com', plan: 'gold' as unknown as number });
} catch (err) {
  if (!(err instanceof SchemaError)) throw err;
  console.log('refused:', err.field, 'in subject', err.subject); // nothing was published
}
await jobs.enqueue(signup, { email: 'ada@example.com', plan: 2 });
await handled;

// Evolution: a field with a default is BACKWARD-compatible, so version 2 registers.
const registry = createSchemaRegistry({ host });
const v2 = await registry.register(`${queue}-value`, {
  type: 'AVRO',
  schema: { ...signupV1, fields: [...signupV1.fields, { name: 'source', type: 'string', default: 'web' }] },
});
console.log('registered version', v2.version, 'compatibility', await registry.getCompatibility(`${queue}-value`));

await jobs.close();
console.log('registry OK');
