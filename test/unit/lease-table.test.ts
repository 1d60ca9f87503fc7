/** The lease table finds a leased job by its lease's token, whatever object carries the token. */
import { afterEach, describe, expect, it } from 'vitest';
import { LeaseExpiredError } from '../../src/index.js';
import { bufferedHeld } from './held-fixture.js';
import { createLeaseTable, type LeaseTable } from '../../src/runtime-backend/lease-table.js';
import type { Lease } from '../../src/jobs/types.js';


describe('lease table', () => {
  const tables: LeaseTable[] = [];
  const table = (): LeaseTable => {
    const t = createLeaseTable(() => undefined);
    tables.push(t);
    return t;
  };
  afterEach(() => tables.splice(0).forEach((t) => t.stop()));

  it('finds a job by the lease handed out, a plain copy of it, or its token; not by another token or table', () => {
    const t = table();
    const [a, b] = [bufferedHeld('a'), bufferedHeld('b')];
    const la = t.lease(a, 60_000);
    const lb = t.lease(b, 60_000);
    expect(la.token).not.toBe(lb.token);
    expect(la.token).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(t.find(la)).toBe(a);
    expect(t.find({ ...la, token: la.token } as Lease)).toBe(a);
    expect(t.find({ token: lb.token, job: b.job } as Lease)).toBe(b);
    expect(t.find({ ...la, token: `${la.token}x` } as Lease)).toBeUndefined();
    expect(t.find({ ...la, token: 'nope' } as Lease)).toBeUndefined();
    // Another table's lease with the same number is not this table's job.
    const other = table();
    const lo = other.lease(bufferedHeld('o'), 60_000);
    expect(t.find(lo)).toBeUndefined();
    expect(() => t.claim(lo, 'ack')).toThrow(LeaseExpiredError);
    expect(t.size).toBe(2);
  });

  it('claims once, renews a copy, restores and forgets', () => {
    const t = table();
    const a = bufferedHeld('a');
    const la = t.lease(a, 60_000);
    const renewed = t.renew({ ...la, token: la.token } as Lease, 120_000);
    expect(renewed.token).toBe(la.token);
    expect(t.claim(renewed, 'ack')).toBe(a);
    expect(() => t.claim(la, 'ack')).toThrow(LeaseExpiredError);
    expect(t.size).toBe(0);
    t.restore(a, Date.now() + 1_000);
    expect(t.find(la)).toBe(a);
    expect([...t.all()]).toEqual([a]);
    expect(t.hasQueue('q')).toBe(true);
    t.forget(a);
    expect(t.find(la)).toBeUndefined();
    expect(t.size).toBe(0);
  });
});
