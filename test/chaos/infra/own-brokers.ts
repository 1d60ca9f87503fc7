/**
 * Brokers the chaos suite owns: a second Kafka and a second nats-server on free ports with
 * their own data dirs, which scenarios may kill (-9), stop, pause and restart on the same
 * data. Never the machine's shared NATS (4222) or the suite's shared Kafka.
 *
 * ```ts
 * const kafka = await startOwnKafka();            // kafka.address: bootstrap for kafkajs
 * await kafka.kill(); await kafka.start();        // same ports, same data
 * await kafka.destroy();                          // in afterAll
 * ```
 *
 * Every broker is SIGKILLed when the test process exits; dirs left by a test process that
 * was itself SIGKILLed are removed (and their broker killed) by the next start.
 */
export type { OwnBroker, OwnBrokerDetails } from './own-process.js';
export { startOwnKafka, type KafkaPorts, type OwnKafka, type OwnKafkaOptions } from './own-kafka.js';
export { startOwnNats, type NatsPorts, type OwnNats, type OwnNatsOptions } from './own-nats.js';
