/**
 * Broker addresses for tests.
 *
 * The integration project's globalSetup (test/setup/global.ts) makes every service
 * available and publishes its address as a JOBBUS_* environment variable (inherited by the
 * forked test workers) and through vitest's provide/inject. These helpers read them and
 * throw, never skip, when a test runs without them.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** JOBBUS_* variable -> address, set by test/setup/global.ts. */
    jobbusBrokers: Record<string, string>;
  }
}

function read(name: string): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  let provided: Record<string, string> | undefined;
  try {
    provided = inject('jobbusBrokers');
  } catch {
    provided = undefined; // not inside a vitest worker
  }
  const value = provided?.[name];
  if (value) return value;
  throw new Error(
    `${name} is not set: this test needs a real broker. Run it through \`npm test\` ` +
      `(the integration project's globalSetup starts the brokers) or \`npm run brokers:up\` ` +
      `and \`source .brokers/env\`, or set ${name} yourself.`,
  );
}

/** Kafka bootstrap servers, e.g. ['127.0.0.1:39092']. */
export function kafkaBrokers(): string[] {
  return read('JOBBUS_KAFKA_BROKERS')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** Confluent-compatible schema registry base URL, e.g. http://127.0.0.1:38081/apis/ccompat/v7. */
export function registryUrl(): string {
  return read('JOBBUS_REGISTRY_URL').replace(/\/+$/, '');
}

/** e.g. nats://127.0.0.1:4222 */
export function natsUrl(): string {
  return read('JOBBUS_NATS_URL');
}

/** e.g. redis://127.0.0.1:6379 */
export function redisUrl(): string {
  return read('JOBBUS_REDIS_URL');
}

/** e.g. postgres://postgres@127.0.0.1:5432/test */
export function pgUrl(): string {
  return read('JOBBUS_PG_URL');
}

/**
 * A name no other test (or earlier run) uses, for a topic, stream, queue, key or subject:
 * the prefix (lower-cased, anything outside [a-z0-9_-] replaced by '-') plus a random
 * suffix. Valid as a Kafka topic, a NATS stream or consumer name, and a NATS subject token.
 */
export function uniqueName(prefix = 't'): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
  const suffix = `${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
  return `${clean || 't'}-${suffix}`;
}
