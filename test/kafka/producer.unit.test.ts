/**
 * Pure parts of the Kafka producer side: send chunking (S5), publish error classification (D3),
 * delay tiers of existing topics (L3).
 */
import { describe, expect, it } from 'vitest';
import { NotFoundError, PublishRejectedError, UnavailableError, ValidationError } from '../../src/errors.js';
import type { ProduceRecord } from '../../src/eventbus/kafka/port.js';
import { classifyPublishError } from '../../src/eventbus/kafka/publish-errors.js';
import { approxSize, chunkRecords } from '../../src/eventbus/kafka/sender.js';
import { delayTiersAmong, parseTierName } from '../../src/eventbus/kafka/tiers.js';

const rec = (bytes: number, i = 0): ProduceRecord => ({ key: `k${i}`, value: new Uint8Array(bytes), headers: { i: String(i) } });

describe('chunkRecords', () => {
  it('S5: a chunk never exceeds the byte limit (checked before adding); a record above the limit goes alone', () => {
    const records = [rec(100_000, 0), rec(300_000, 1), rec(200_000, 2), rec(700_000, 3), rec(10, 4), rec(10, 5)];
    const chunks = chunkRecords(records, 512 * 1024, 1_000);
    for (const c of chunks) {
      const bytes = c.reduce((n, r) => n + approxSize(r), 0);
      if (c.length > 1) expect(bytes).toBeLessThanOrEqual(512 * 1024);
    }
    expect(chunks.map((c) => c.map((r) => r.headers.i))).toEqual([['0', '1'], ['2'], ['3'], ['4', '5']]);
  });

  it('S5: respects the record-count limit and keeps order', () => {
    const records = Array.from({ length: 25 }, (_, i) => rec(1, i));
    const chunks = chunkRecords(records, 1 << 30, 10);
    expect(chunks.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(chunks.flat().map((r) => r.headers.i)).toEqual(records.map((r) => r.headers.i));
    expect(chunkRecords([], 10, 10)).toEqual([]);
  });
});

describe('classifyPublishError', () => {
  const protocol = (type: string, retriable: boolean): Error => Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable });
  const exhausted = (cause: Error): Error => Object.assign(new Error(cause.message), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause });

  it('D3: permanent broker refusals become PublishRejectedError with the cause kept', () => {
    for (const type of ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'INVALID_TIMESTAMP', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'INVALID_TOPIC_EXCEPTION', 'POLICY_VIOLATION']) {
      const cause = protocol(type, false);
      const e = classifyPublishError('t', cause, { autoCreateTopics: true });
      expect(e, type).toBeInstanceOf(PublishRejectedError);
      expect(e.retryable).toBe(false);
      expect(e.cause).toBe(cause);
    }
  });

  it('D3: transient failures (connection, retries exhausted, leader moves) become UnavailableError', () => {
    const conn = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
    for (const err of [exhausted(conn), protocol('NOT_LEADER_OR_FOLLOWER', true), new Error('Request timed out'), 'a string']) {
      const e = classifyPublishError('t', err, { autoCreateTopics: true });
      expect(e).toBeInstanceOf(UnavailableError);
      expect(e.retryable).toBe(true);
    }
  });

  it('D3: an unknown topic is a rejection only when topics are not auto-created; jobbus errors pass through', () => {
    const unknown = exhausted(protocol('UNKNOWN_TOPIC_OR_PARTITION', true));
    expect(classifyPublishError('t', unknown, { autoCreateTopics: false })).toBeInstanceOf(PublishRejectedError);
    expect(classifyPublishError('t', unknown, { autoCreateTopics: true })).toBeInstanceOf(UnavailableError);
    expect(classifyPublishError('t', new NotFoundError('missing'), { autoCreateTopics: false })).toBeInstanceOf(PublishRejectedError);
    const v = new ValidationError('x', 'bad');
    expect(classifyPublishError('t', v, { autoCreateTopics: true })).toBe(v);
  });
});

describe('delay tiers of existing topics', () => {
  it('L3: parses tier names and finds every <queue>.delay.<tier> topic, whatever ladder made it', () => {
    expect(parseTierName('1s')).toBe(1_000);
    expect(parseTierName('250ms')).toBe(250);
    expect(parseTierName('10m')).toBe(600_000);
    expect(parseTierName('2h')).toBe(7_200_000);
    expect(parseTierName('1x')).toBeUndefined();
    expect(parseTierName('0s')).toBeUndefined();
    const names = ['q', 'q.dlq', 'q.delay.3s', 'q.delay.700ms', 'q.delay.1000ms', 'q.delay.1s', 'qq.delay.1s', 'q.delay.1s.delay.1s', 'other.delay.1h'];
    expect(delayTiersAmong('q', names)).toEqual([
      { name: '700ms', ms: 700 },
      { name: '1s', ms: 1_000 },
      { name: '3s', ms: 3_000 },
    ]);
  });
});
