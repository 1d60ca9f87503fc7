/**
 * Which client library a Kafka bus loads when `driver` is not given: @platformatic/kafka when it
 * can be loaded, else kafkajs, else a NotInitializedError naming both install commands. An
 * explicit `driver` is never replaced by the other library. Creating a bus connects nothing,
 * so no broker is needed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NotInitializedError } from '../../src/errors.js';

const BROKERS = ['127.0.0.1:1'];

/** The bus module loaded afresh, with the named client libraries failing to import. */
async function busModuleWithout(...missing: string[]): Promise<typeof import('../../src/eventbus/kafka/index.js')> {
  vi.resetModules();
  for (const name of missing) {
    vi.doMock(name, () => {
      throw new Error(`Cannot find package '${name}'`);
    });
  }
  return import('../../src/eventbus/kafka/index.js');
}

afterEach(() => {
  vi.doUnmock('@platformatic/kafka');
  vi.doUnmock('kafkajs');
  vi.resetModules();
});

describe('the default Kafka driver', () => {
  it('is @platformatic/kafka when it can be loaded', async () => {
    const { createKafkaEventBus } = await busModuleWithout();
    const bus = await createKafkaEventBus({ brokers: BROKERS });
    expect(bus.driver).toBe('platformatic');
    await bus.close();
  });

  it('is kafkajs when @platformatic/kafka is not installed', async () => {
    const { createKafkaEventBus } = await busModuleWithout('@platformatic/kafka');
    const bus = await createKafkaEventBus({ brokers: BROKERS });
    expect(bus.driver).toBe('kafkajs');
    await bus.close();
  });

  it('names both libraries and their install commands when neither is installed', async () => {
    const { createKafkaEventBus } = await busModuleWithout('@platformatic/kafka', 'kafkajs');
    const err = await createKafkaEventBus({ brokers: BROKERS }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The module was loaded afresh: compare by code, not by class identity.
    expect((err as NotInitializedError).code).toBe(new NotInitializedError('x').code);
    expect((err as NotInitializedError).retryable).toBe(false);
    expect((err as Error).message).toContain('npm install @platformatic/kafka');
    expect((err as Error).message).toContain('npm install kafkajs');
  });

  it('an explicit driver is not replaced by the other library', async () => {
    const { createKafkaEventBus } = await busModuleWithout('kafkajs');
    const err = await createKafkaEventBus({ brokers: BROKERS, driver: 'kafkajs' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as Error).message).toContain('npm install kafkajs');
    expect((err as Error).message).not.toContain('@platformatic/kafka');
  });
});
