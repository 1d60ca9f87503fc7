/**
 * Real brokers for the test suite (see README.md here). Each `ensure*` function makes one
 * service available and returns its address plus a `stop()` that stops only what it started:
 *
 * - Kafka 4.2.1 (single-node KRaft) from Maven Central jars, on 127.0.0.1 (kafka.ts).
 * - Apicurio Registry 3.3.3 (Confluent-compatible API at /apis/ccompat/v7), on 127.0.0.1
 *   (registry.ts).
 * - NATS (JetStream), Redis and PostgreSQL, which this machine already runs; they are
 *   checked, and restarted with the machine's own commands when they have stopped
 *   (local-services.ts).
 *
 * Every address can be overridden with an environment variable (config.ts, ENV). When one
 * is set, that service is never started, only checked. Downloads (maven.ts) and waits print
 * progress lines to stderr.
 *
 * This file only gathers the modules, so importers (global.ts, cli.ts, the chaos suite's own
 * brokers, bench/kafka.ts) keep one import path.
 */
export * from './config.js';
export * from './process.js';
export * from './jdk.js';
export * from './maven.js';
export * from './kafka.js';
export * from './registry.js';
export * from './local-services.js';
export * from './state.js';
export * from './ensure-all.js';
