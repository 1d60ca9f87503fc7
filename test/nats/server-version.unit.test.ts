/** Which cleanup the NATS bus picks per server version (finding N1), and the delay ladder. No server needed. */
import { describe, expect, it } from 'vitest';
import { cleanupMethodFor, parseServerVersion } from '../../src/eventbus/nats/server-version.js';
import { tierFor } from '../../src/eventbus/nats/delay-tiers.js';
import { parseAckSubject } from '../../src/eventbus/nats/protocol.js';

describe('NATS server version', () => {
  it('N1: selects per-message deletes on servers that lose ack-pending state on a partial purge (< 2.9.15)', () => {
    expect(cleanupMethodFor('2.9.10')).toBe('delete');
    expect(cleanupMethodFor('2.9.14')).toBe('delete');
    expect(cleanupMethodFor('2.8.4')).toBe('delete');
    expect(cleanupMethodFor('2.9.15')).toBe('purge');
    expect(cleanupMethodFor('2.10.0')).toBe('purge');
    expect(cleanupMethodFor('v2.12.1-RC.2')).toBe('purge');
    expect(cleanupMethodFor('3.0.0')).toBe('purge');
    expect(cleanupMethodFor(undefined)).toBe('delete');
    expect(cleanupMethodFor('garbage')).toBe('delete');
    expect(parseServerVersion('2.10.3-beta.1')).toEqual({ major: 2, minor: 10, patch: 3 });
  });
});

describe('NATS delay tiers', () => {
  it('S6: a delay goes to the largest rung not longer than it, under a second to near', () => {
    expect(tierFor(0).name).toBe('near');
    expect(tierFor(999).name).toBe('near');
    expect(tierFor(1_000).name).toBe('t1s');
    expect(tierFor(59_999).name).toBe('t10s');
    expect(tierFor(3_599_999).name).toBe('t10m');
    expect(tierFor(86_400_000).name).toBe('t1h');
  });

  it('reads delivery count, stream sequence and store time from both ack subject forms', () => {
    expect(parseAckSubject('$JS.ACK.S.c.3.42.7.1700000000123456789.0')).toEqual({ deliveryCount: 3, seq: 42, storedAt: 1700000000123 });
    expect(parseAckSubject('$JS.ACK.dom.hash.S.c.2.9.4.1700000000999000000.5.tok')).toEqual({ deliveryCount: 2, seq: 9, storedAt: 1700000000999 });
    expect(parseAckSubject(undefined)).toEqual({ deliveryCount: 1, seq: 0, storedAt: 0 });
  });
});
