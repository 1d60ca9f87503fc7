/**
 * The platformatic group consumer's fetch loop without a broker: the library module is a
 * scripted stand-in (group join, metadata, committed offsets, and a fetch whose answers each
 * test decides). Covered: a fetch failure that lasts is reported through onCrash (restarting:
 * false) as the kafkajs driver reports its crashes, a short one is not; and the pipelined fetch
 * (the next fetch under way while a batch is delivered) never skips or repeats a record when a
 * batch stops short.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { PltConnection, PltModule } from '../../src/eventbus/kafka/platformatic-driver.js';
import { createFetchFailures, FETCH_FAILURE_MIN_ATTEMPTS } from '../../src/eventbus/kafka/platformatic-fetch.js';
import { createPlatformaticGroupConsumer } from '../../src/eventbus/kafka/platformatic-group-consumer.js';
import type { GroupConsumerPort, GroupConsumerSettings, GroupHandlers } from '../../src/eventbus/kafka/port.js';
import { waitFor } from '../../src/testing/wait.js';

const TOPIC = 't';
const TOPIC_ID = 'topic-id-t';

/** One fetch request as the stand-in sees it. */
interface FetchCall {
  readonly offset: number;
  /** Time the request was sent (ms since the test's start). */
  readonly at: number;
}

/** A scripted library: `fetch(offset)` answers a fetch of partition 0 at `offset`. */
interface Script {
  fetch(offset: number): Promise<unknown>;
}

const kGetApi = Symbol('kGetApi');

function fakeModule(script: Script, calls: FetchCall[]): PltModule {
  const t0 = Date.now();
  class Consumer extends EventEmitter {
    memberId = 'member-1';
    generationId = 1;
    assignments = [{ topic: TOPIC, partitions: [0] }];
    topics = { trackAll: (): void => undefined, track: (): void => undefined };
    async metadata(): Promise<unknown> {
      return { topics: new Map([[TOPIC, { id: TOPIC_ID, partitions: [{ leader: 1 }] }]]), brokers: new Map() };
    }
    async joinGroup(): Promise<void> {
      setImmediate(() => this.emit('consumer:group:join', { assignments: this.assignments }));
    }
    clearMetadata(): void {}
    fetch(req: { topics: { partitions: { fetchOffset: bigint }[] }[] }): Promise<unknown> {
      const offset = Number(req.topics[0]!.partitions[0]!.fetchOffset);
      calls.push({ offset, at: Date.now() - t0 });
      return script.fetch(offset);
    }
    close(_force: boolean, cb: (err?: unknown) => void): void {
      cb();
    }
    [kGetApi](_name: string, cb: (err: unknown, api: unknown) => void): void {
      cb(null, { async: async () => undefined });
    }
  }
  class ConnectionPool {
    async close(): Promise<void> {}
  }
  return { Consumer, ConnectionPool, kGetApi } as unknown as PltModule;
}

const admin = {
  async listConsumerGroupOffsets({ groups }: { groups: string[] }): Promise<unknown> {
    return [{ groupId: groups[0], topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, committedOffset: 0n, metadata: '' }] }] }];
  },
};

const connection = { clientId: 'unit', bootstrapBrokers: ['b:9092'], connectTimeout: 1_000, timeout: 1_000, requestTimeout: 1_000, retries: 0, retryDelay: 0 } as PltConnection;

function settings(sessionTimeoutMs: number): GroupConsumerSettings {
  return {
    groupId: 'g',
    topics: [TOPIC],
    sessionTimeoutMs,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    maxWaitTimeMs: 20,
    maxBytesPerPartition: 1_048_576,
    partitionsConcurrently: 1,
  };
}

/** A fetch answer of partition 0 with data records `from` .. `to - 1`. */
function records(from: number, to: number): unknown {
  const n = to - from;
  const partition = {
    partitionIndex: 0,
    errorCode: 0,
    logStartOffset: 0n,
    records: n
      ? [
          {
            firstOffset: BigInt(from),
            lastOffsetDelta: n - 1,
            firstTimestamp: 1_000n,
            attributes: 0,
            records: Array.from({ length: n }, (_, i) => ({ offsetDelta: i, timestampDelta: 0n, key: null, value: Buffer.from(String(from + i)), headers: [] })),
          },
        ]
      : [],
  };
  return { responses: [{ topicId: TOPIC_ID, partitions: [partition] }] };
}

/** The library's error for a partition-level error: the response (other partitions' data) inside. */
function partitionFailure(apiId: string, apiCode: number): unknown {
  const protocol = Object.assign(new Error(`${apiId}`), { apiId, apiCode, canRetry: false });
  const partition = { partitionIndex: 0, errorCode: apiCode, logStartOffset: -1n, records: [] };
  return Object.assign(new AggregateError([protocol], 'Received response with error while executing API Fetch(v12)'), {
    code: 'PLT_KFK_RESPONSE',
    response: { responses: [{ topicId: TOPIC_ID, partitions: [partition] }] },
  });
}

const networkError = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'PLT_KFK_NETWORK', canRetry: true });

const started: GroupConsumerPort[] = [];
afterEach(async () => {
  await Promise.allSettled(started.splice(0).map((c) => c.stop()));
});

/** Start a consumer over `script`; crashes and delivered offsets are recorded. */
async function start(
  script: Script,
  sessionTimeoutMs: number,
  onBatch: GroupHandlers['onBatch'] = async () => undefined,
): Promise<{ calls: FetchCall[]; crashes: { error: unknown; restarting: boolean; at: number }[] }> {
  const calls: FetchCall[] = [];
  const crashes: { error: unknown; restarting: boolean; at: number }[] = [];
  const t0 = Date.now();
  const c = createPlatformaticGroupConsumer(fakeModule(script, calls), connection, settings(sessionTimeoutMs), undefined, () => ({
    admin: admin as never,
    release: async () => undefined,
  }));
  started.push(c);
  await c.start({
    onBatch,
    onAssigned: () => undefined,
    onRebalancing: () => undefined,
    onCrash: (error, restarting) => void crashes.push({ error, restarting, at: Date.now() - t0 }),
  });
  return { calls, crashes };
}

const idleFetch = (): Promise<unknown> => new Promise((r) => setTimeout(() => r(records(0, 0)), 5));

describe('platformatic group consumer: lasting fetch failures', () => {
  it('a fetch that keeps failing (broker unreachable) crashes the member once it lasted the session timeout', async () => {
    const { calls, crashes } = await start({ fetch: () => Promise.reject(networkError()) }, 500);
    await waitFor(() => crashes.length > 0, "the crash report", 10_000);
    expect(crashes).toHaveLength(1);
    expect(crashes[0]!.restarting).toBe(false);
    expect(crashes[0]!.at).toBeGreaterThanOrEqual(500);
    expect(String((crashes[0]!.error as Error).message)).toMatch(/fetching has failed for \d+ ms .*ECONNREFUSED/);
    expect(((crashes[0]!.error as Error).cause as Error).message).toMatch(/ECONNREFUSED/);
    // Stopped for good: no fetch after the crash.
    const n = calls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(calls.length).toBe(n);
  });

  it('access denied on the topic (a partition-level error) crashes the member after a few attempts, well before the session timeout', async () => {
    const { calls, crashes } = await start({ fetch: () => Promise.reject(partitionFailure('TOPIC_AUTHORIZATION_FAILED', 29)) }, 60_000);
    await waitFor(() => crashes.length > 0, "the crash report", 10_000);
    expect(calls.length).toBe(FETCH_FAILURE_MIN_ATTEMPTS);
    expect(crashes[0]!.restarting).toBe(false);
    expect(String((crashes[0]!.error as Error).message)).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
  });

  it('failures between successful fetches are retried, not reported', async () => {
    let n = 0;
    // Two failures, one clean (empty) answer, and so on: never FETCH_FAILURE_MIN_ATTEMPTS in a row.
    const { calls, crashes } = await start({ fetch: () => (++n % 3 === 0 ? idleFetch() : Promise.reject(networkError())) }, 50);
    await waitFor(() => calls.length >= 12, "a dozen fetches", 20_000);
    expect(crashes).toEqual([]);
  });

  it('the failure clock: attempts and lasting time both count, a success resets them', () => {
    let now = 0;
    const f = createFetchFailures(1_000, () => now);
    const err = networkError();
    expect(f.failed([err])).toBeUndefined();
    now = 2_000;
    expect(f.failed([err])).toBeUndefined(); // lasted, but only 2 attempts
    f.succeeded();
    expect(f.attempts()).toBe(0);
    for (let i = 0; i < 5; i++) {
      now += 100;
      expect(f.failed([err])).toBeUndefined(); // 5 attempts within 500 ms
    }
    now += 600;
    expect(f.failed([err])).toBeInstanceOf(Error);
  });
});

describe('platformatic group consumer: pipelined fetches', () => {
  it('fetches the next batch while one is delivered, and refetches where a batch stopped short: no record skipped or repeated', async () => {
    const LOG = 200;
    const delivered: number[] = [];
    let batches = 0;
    let inBatch = false;
    let fetchedDuringBatch = 0;
    const script: Script = {
      async fetch(offset) {
        if (inBatch) fetchedDuringBatch++;
        await new Promise((r) => setTimeout(r, 1));
        return offset >= LOG ? records(offset, offset) : records(offset, Math.min(LOG, offset + 10));
      },
    };
    await start(script, 30_000, async (batch, control) => {
      inBatch = true;
      batches++;
      // Every third batch stops after 3 records (as at the span bound): the rest is fetched again.
      const take = batches % 3 === 0 ? 3 : batch.records.length;
      for (const r of batch.records.slice(0, take)) {
        delivered.push(r.offset);
        control.advance(r.offset);
      }
      await new Promise((r) => setTimeout(r, 5));
      inBatch = false;
    });
    await waitFor(() => delivered.length >= LOG, `all ${LOG} records`, 20_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(delivered).toEqual(Array.from({ length: LOG }, (_, i) => i));
    expect(fetchedDuringBatch).toBeGreaterThan(0);
  });
});
