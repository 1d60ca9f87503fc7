/**
 * The platformatic driver without its optional peer dependency: a clear, non-retryable error
 * naming the package and the install command.
 */
import { describe, expect, it, vi } from 'vitest';
import { NotInitializedError } from '../../src/errors.js';
import { createKafkaEventBus } from '../../src/eventbus/kafka/index.js';

vi.mock('@platformatic/kafka', () => {
  throw new Error("Cannot find package '@platformatic/kafka'");
});

describe('kafka driver "platformatic" without @platformatic/kafka', () => {
  it('createKafkaEventBus rejects with a NotInitializedError naming the package and npm install', async () => {
    const err = await createKafkaEventBus({ driver: 'platformatic', brokers: ['127.0.0.1:1'] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotInitializedError);
    expect((err as NotInitializedError).retryable).toBe(false);
    expect((err as Error).message).toContain('@platformatic/kafka');
    expect((err as Error).message).toContain('npm install @platformatic/kafka');
  });
});
