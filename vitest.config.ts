import { defineConfig } from 'vitest/config';

// Two projects; `npm test` (vitest run) runs both.
// - unit: no services at all (`npm run test:unit`).
// - integration: real brokers. Its globalSetup (test/setup/global.ts) starts Kafka and the
//   schema registry (or reuses `npm run brokers:up`, or the JOBBUS_* addresses you set),
//   checks NATS, Redis and PostgreSQL, and fails the run loudly if one is missing.
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
          include: ['test/unit/**/*.test.ts', 'test/conformance/memory.test.ts', 'test/**/*.unit.test.ts'],
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
            'test/conformance/**/*.test.ts',
            'test/reliability/**/*.test.ts',
            'test/chaos/**/*.test.ts',
            'test/security/**/*.test.ts',
          ],
          exclude: ['test/conformance/memory.test.ts', 'test/**/*.unit.test.ts', '**/node_modules/**'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
