import { defineConfig } from 'vitest/config';

// Five projects; `npm test` (vitest run) runs them all.
// - unit: no services at all (`npm run test:unit`).
// - integration: real brokers. Its globalSetup (test/setup/global.ts) starts Kafka and the
//   schema registry (or reuses `npm run brokers:up`, or the JOBBUS_* addresses you set),
//   checks NATS, Redis and PostgreSQL, and fails the run loudly if one is missing.
// - integration-platformatic: the Kafka files of integration again, on the @platformatic/kafka driver.
// - chaos: the short chaos scenarios (test/chaos), after the other two, one file at a time.
// - package: the packed package installed as users install it (test/package), last.
export default defineConfig({
  test: {
    // Sized for 2-core machines: brokers run on the same host as the tests.
    pool: 'forks',
    // jobbus components log through pino at JOBBUS_LOG_LEVEL (default warn): silent in tests.
    env: { JOBBUS_LOG_LEVEL: process.env.JOBBUS_LOG_LEVEL ?? 'silent' },
    maxWorkers: 2,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/conformance/memory.test.ts', 'test/**/*.unit.test.ts', 'test/scheduler/*.test.ts', 'test/observability/*.test.ts'],
          // Scheduler and observability tests that need services are named *.int.test.ts and run in integration.
          exclude: ['test/scheduler/*.int.test.ts', 'test/observability/*.int.test.ts', '**/node_modules/**'],
          testTimeout: 15_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'test/smoke/**/*.test.ts',
            'test/kafka/**/*.test.ts',
            'test/nats/**/*.test.ts',
            'test/registry/**/*.test.ts',
            // The registry's Java serde against the Node side (first run: a Maven download).
            'test/interop/**/*.test.ts',
            'test/conformance/**/*.test.ts',
            'test/face/**/*.test.ts',
            // The jobbus command, spawned as a user runs it.
            'test/cli/**/*.test.ts',
            'test/security/**/*.test.ts',
            'test/scheduler/**/*.int.test.ts',
            'test/observability/*.int.test.ts',
            'test/status/*.int.test.ts',
            // In-process workers on the shared brokers; the other chaos files are below.
            'test/chaos/poison.test.ts',
            'test/scheduler/*.int.test.ts',
          ],
          exclude: ['test/conformance/memory.test.ts', 'test/**/*.unit.test.ts', '**/node_modules/**'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // The Kafka suite again on the second client driver (@platformatic/kafka): every Kafka
          // bus and wrapped client port in these files takes its driver from JOBBUS_KAFKA_DRIVER
          // (test/kafka/driver.ts). Same brokers and globalSetup as integration.
          name: 'integration-platformatic',
          include: [
            'test/kafka/**/*.test.ts',
            'test/face/kafka*.test.ts',
            'test/face/stats-kafka.test.ts',
            'test/observability/kafka.int.test.ts',
            'test/registry/jobs-kafka.test.ts',
            // SASL/SCRAM over TLS with ACLs (a Kafka of its own).
            'test/security/kafka-security.test.ts',
          ],
          exclude: ['test/**/*.unit.test.ts', '**/node_modules/**'],
          env: { JOBBUS_LOG_LEVEL: process.env.JOBBUS_LOG_LEVEL ?? 'silent', JOBBUS_KAFKA_DRIVER: 'platformatic' },
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // Short chaos scenarios: worker processes and brokers of their own that they kill,
          // stop and cut off. They run after the other projects, one file at a time, so their
          // timing checks (no stall, lag, recovery) measure jobbus, not a machine busy with
          // other tests. They need only PostgreSQL (the ledger).
          name: 'chaos',
          include: ['test/chaos/**/*.test.ts'],
          exclude: ['test/chaos/poison.test.ts', 'test/**/*.unit.test.ts', '**/node_modules/**'],
          env: { JOBBUS_PG_URL: process.env.JOBBUS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
          sequence: { groupOrder: 1 },
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          // The Kafka half of the worker and broker fault scenarios again on the second driver
          // (@platformatic/kafka, the default when installed), after the chaos project.
          name: 'chaos-platformatic',
          include: ['test/chaos/broker-faults.test.ts', 'test/chaos/worker-faults.test.ts'],
          env: {
            JOBBUS_PG_URL: process.env.JOBBUS_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
            JOBBUS_KAFKA_DRIVER: 'platformatic',
            JOBBUS_CHAOS_BUSES: 'kafka',
          },
          sequence: { groupOrder: 2 },
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          // The package as users install it (test/package): npm pack, installs from the
          // tarball, the folder and a git URL, scripts and tsc in scratch projects. No brokers.
          // Last, alone: its npm installs and builds would slow the timing-sensitive tests.
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          sequence: { groupOrder: 3 },
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
