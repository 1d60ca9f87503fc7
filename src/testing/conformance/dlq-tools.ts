/**
 * The DLQ tools on every browsable bus: listing with filters and paging (newest first, a cursor
 * stable while entries arrive), replay by ids and by filter (rate-limited, oldest first, the
 * copy's headers) and purge, with their reports and progress.
 */
import { H } from '../../headers/names.js';
import { createBusDLQStore } from '../../bridge/dlq-store.js';
import { REPLAY_OF_HEADER } from '../../bridge/dlq-entry.js';
import { isBrowsable, type BrowsableBus, type EventBus } from '../../eventbus/types.js';
import type { DLQEntry, DLQProgress, DLQStore, Job } from '../../jobs/types.js';
import { elapse, waitFor } from '../wait.js';
import type { ConformanceContext } from './context.js';
import { seedDLQ, specs } from './dlq-seed.js';

/** Jobs run by a worker, by job id. */
export type Runs = Map<string, Job[]>;

/** A worker on `queue` recording every job of `names` it runs. */
export async function recordRuns(ctx: ConformanceContext, bus: EventBus, queue: string, names: readonly string[]): Promise<Runs> {
  const runs: Runs = new Map();
  const backend = await ctx.newBackend(bus);
  const handlers = Object.fromEntries(names.map((n) => [n, (job: Job) => void runs.set(job.id, [...(runs.get(job.id) ?? []), job])]));
  await ctx.newWorker(backend, { queues: [queue] }, handlers);
  return runs;
}

/** Every page of a listing, following the cursors. */
async function allPages(store: DLQStore, queue: string, limit: number): Promise<DLQEntry[][]> {
  const pages: DLQEntry[][] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(queue, { limit, ...(cursor !== undefined && { cursor }) });
    pages.push([...page.entries]);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

/** Register the DLQ tool cases (inside the suite's describe). */
export function dlqToolCases(ctx: ConformanceContext): void {
  const { it, expect, patience, queueName, newBus } = ctx;

  async function setup(prefix: string): Promise<{ bus: EventBus & BrowsableBus; queue: string; dlq: string; store: DLQStore } | undefined> {
    const bus = await newBus();
    if (!isBrowsable(bus)) return undefined; // the DLQ store needs a browsable bus
    const queue = queueName(prefix);
    return { bus, queue, dlq: `${queue}.dlq`, store: createBusDLQStore(bus) };
  }

  it('DLQ list: newest first with every field, filters, and pages whose cursor holds while entries arrive', async () => {
    const s = await setup('dlqlist');
    if (!s) return;
    const seeded = await seedDLQ(s.bus, s.queue, s.dlq, specs(7, ['a', 'b'], ['Timeout talking to billing', 'bad input']));
    const newestIds = seeded.map((x) => x.job.id).reverse();
    const all = await s.store.list(s.queue);
    expect(all.entries.map((e) => e.job.id)).toEqual(newestIds);
    expect(all.nextCursor).toBeUndefined();
    const top = all.entries[0]!;
    expect(top).toMatchObject({ originalQueue: s.queue, reason: 'Timeout talking to billing', attempt: 2, payloadPreview: '{"i":6}' });
    expect(top.failedAt.getTime()).toBe(seeded[6]!.failedAt.getTime());
    expect(top.headers[H.id]).toBe(seeded[6]!.job.id);
    expect(top.entryId).toMatch(/^[0-9a-f]{24}$/);
    expect((await s.store.list(s.queue)).entries[0]!.entryId).toBe(top.entryId); // stable

    const page1 = await s.store.list(s.queue, { limit: 3 });
    expect(page1.entries.map((e) => e.job.id)).toEqual(newestIds.slice(0, 3));
    await seedDLQ(s.bus, s.queue, s.dlq, specs(1, ['a'], ['late'], new Date())); // a newer entry arrives
    const page2 = await s.store.list(s.queue, { limit: 3, cursor: page1.nextCursor! });
    expect(page2.entries.map((e) => e.job.id)).toEqual(newestIds.slice(3, 6));
    const page3 = await s.store.list(s.queue, { limit: 3, cursor: page2.nextCursor! });
    expect(page3.entries.map((e) => e.job.id)).toEqual(newestIds.slice(6));
    expect(page3.nextCursor).toBeUndefined();
    expect((await allPages(s.store, s.queue, 2)).flat()).toHaveLength(8);

    const ids = (f: Parameters<DLQStore['list']>[1]): Promise<string[]> => s.store.list(s.queue, f).then((p) => p.entries.map((e) => e.job.id));
    const evens = seeded.filter((_, i) => i % 2 === 0).map((x) => x.job.id).reverse();
    expect(await ids({ names: ['a'], until: seeded[6]!.failedAt })).toEqual(evens);
    expect(await ids({ reason: 'TIMEOUT', until: seeded[6]!.failedAt })).toEqual(evens);
    expect(await ids({ since: seeded[2]!.failedAt, until: seeded[4]!.failedAt })).toEqual(newestIds.slice(2, 5));
    expect(await ids({ ids: [seeded[1]!.job.id, top.entryId] })).toEqual([seeded[6]!.job.id, seeded[1]!.job.id]);
    expect(await ids({ names: ['nobody'] })).toEqual([]);
    expect(await ids({ ids: [] })).toEqual([]);
  });

  it('DLQ tools: invalid input is a ValidationError naming the field', async () => {
    const s = await setup('dlqbad');
    if (!s) return;
    const bad = (p: Promise<unknown>, field: string): Promise<void> => expect(p).rejects.toMatchObject({ field, code: 'VALIDATION' });
    await bad(s.store.list(s.queue, { since: new Date('nope') }), 'since');
    await bad(s.store.list(s.queue, { limit: 0 }), 'limit');
    await bad(s.store.list(s.queue, { cursor: 'not a cursor' }), 'cursor');
    await bad(s.store.list(s.queue, { ids: [1 as unknown as string] }), 'ids');
    await bad(s.store.replay(s.queue, { until: '2024-01-01' as unknown as Date }), 'until');
    await bad(s.store.replay(s.queue, {}, { ratePerSecond: 0 }), 'ratePerSecond');
    await bad(s.store.purge(s.queue, { names: 'a' as unknown as string[] }), 'names');
    await bad(s.store.list(''), 'queue');
  });

  it('DLQ replay: by ids then by filter, oldest first, rate-limited, with the copy headers and a report', async () => {
    const s = await setup('dlqreplay');
    if (!s) return;
    const seeded = await seedDLQ(s.bus, s.queue, s.dlq, specs(8, ['r'], ['flaky upstream', 'bug']));
    const runs = await recordRuns(ctx, s.bus, s.queue, ['r']);
    const [first] = (await s.store.list(s.queue, { ids: [seeded[0]!.job.id] })).entries;
    const byIds = await s.store.replay(s.queue, { ids: [first!.entryId, seeded[1]!.job.id] });
    expect(byIds).toMatchObject({ matched: 2, replayed: 2, alreadyReplayed: 0 });
    await waitFor(() => runs.get(seeded[0]!.job.id) && runs.get(seeded[1]!.job.id), 'the two replayed jobs', patience);
    const copy = runs.get(seeded[0]!.job.id)![0]!;
    expect(copy.attempt).toBe(0);
    expect(copy.headers[REPLAY_OF_HEADER]).toBe(first!.entryId);
    expect(Number.isNaN(Date.parse(copy.headers['job_replayed_at'] ?? ''))).toBe(false);
    expect(copy.failure).toBeUndefined();

    // The flaky ones left (2, 4, 6) at 20 per second: oldest first, at least 50 ms apart.
    const flakyEntries = (await s.store.list(s.queue, { reason: 'flaky' })).entries;
    expect(flakyEntries.map((e) => e.job.id)).toEqual([6, 4, 2].map((i) => seeded[i]!.job.id));
    const progress: { p: DLQProgress; at: number }[] = [];
    const byReason = await s.store.replay(s.queue, { reason: 'FLAKY' }, { ratePerSecond: 20, onProgress: (p) => progress.push({ p, at: Date.now() }) });
    expect(byReason).toMatchObject({ matched: 3, replayed: 3, alreadyReplayed: 0 });
    expect(byReason.replayedIds).toEqual(flakyEntries.map((e) => e.entryId).reverse());
    expect((await s.store.list(s.queue, { reason: 'flaky' })).entries).toHaveLength(0);
    expect(progress.map((x) => x.p)).toEqual([0, 1, 2, 3].map((done) => ({ done, total: 3 })));
    expect(progress[3]!.at - progress[0]!.at).toBeGreaterThanOrEqual(90);
    await waitFor(() => flakyEntries.every((e) => runs.get(e.job.id)), 'the flaky jobs', patience);

    const rest = await s.store.replay(s.queue, {});
    expect(rest).toMatchObject({ matched: 3, replayed: 3, alreadyReplayed: 0 });
    await waitFor(() => seeded.every((x) => runs.get(x.job.id)), 'every job', patience);
    expect((await s.store.list(s.queue)).entries).toHaveLength(0);
    expect(await s.store.replay(s.queue, {})).toMatchObject({ matched: 0, replayed: 0, alreadyReplayed: 0 });
    await elapse(200);
    expect(seeded.every((x) => runs.get(x.job.id)!.length === 1)).toBe(true);
  });

  it('DLQ purge: by ids and by filter with progress; purged entries never come back', async () => {
    const s = await setup('dlqpurge');
    if (!s) return;
    const seeded = await seedDLQ(s.bus, s.queue, s.dlq, specs(6, ['p', 'q'], ['x']));
    const progress: DLQProgress[] = [];
    const byIds = await s.store.purge(s.queue, { ids: [seeded[0]!.job.id, seeded[5]!.job.id] }, { onProgress: (p) => progress.push(p) });
    expect(byIds).toEqual({ matched: 2, purged: 2 });
    expect(progress[0]).toEqual({ done: 0, total: 2 });
    expect(progress[progress.length - 1]).toEqual({ done: 2, total: 2 });
    expect(await s.store.purge(s.queue, { names: ['nobody'] })).toEqual({ matched: 0, purged: 0 });
    expect(await s.store.purge(s.queue, { names: ['q'] })).toEqual({ matched: 2, purged: 2 });
    const left = (await s.store.list(s.queue)).entries.map((e) => e.job.id);
    expect(left).toEqual([seeded[4]!.job.id, seeded[2]!.job.id]);
    expect(await s.store.purge(s.queue, {})).toEqual({ matched: 2, purged: 2 });
    expect((await s.store.list(s.queue)).entries).toHaveLength(0);
    expect(await s.bus.browse(s.dlq, 100)).toHaveLength(0);
  });
}
