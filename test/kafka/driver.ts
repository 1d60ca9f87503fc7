/**
 * Which Kafka client driver the tests run on: env `JOBBUS_KAFKA_DRIVER` (`kafkajs` or
 * `platformatic`; the vitest project `integration-platformatic` sets it), default kafkajs. Every
 * test that builds a Kafka bus or wraps the client port takes the driver from here.
 */
import type { KafkaClientPort, KafkaDriverName } from '../../src/eventbus/kafka/index.js';
import { loadKafkaJsDriver } from '../../src/eventbus/kafka/kafkajs-driver.js';
import { loadPlatformaticDriver } from '../../src/eventbus/kafka/platformatic-driver.js';
import { kafkaBrokers } from '../setup/env.js';

/** The driver named by env `JOBBUS_KAFKA_DRIVER` (default kafkajs). */
export function testDriver(): KafkaDriverName {
  const d = process.env.JOBBUS_KAFKA_DRIVER;
  if (d === undefined || d === '') return 'kafkajs';
  if (d !== 'kafkajs' && d !== 'platformatic') throw new Error(`JOBBUS_KAFKA_DRIVER must be kafkajs or platformatic, not ${d}`);
  return d;
}

/** The test driver against the test broker, as the bus would load it (for tests that wrap the port). */
export function loadTestDriver(clientId: string): Promise<KafkaClientPort> {
  const options = { brokers: kafkaBrokers(), clientId, connectionTimeoutMs: 3_000, requestTimeoutMs: 30_000, idempotent: true };
  return testDriver() === 'platformatic' ? loadPlatformaticDriver(options) : loadKafkaJsDriver(options);
}
