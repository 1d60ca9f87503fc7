/**
 * The `jobbus` command end to end on a real Kafka broker (the integration project's): a worker
 * process handles a job and dead-letters another, stops on SIGTERM with exit 0; the DLQ is
 * listed and replayed (--json parsed); queue stats; a wrong broker address. The NATS file
 * covers the rest of the commands; these are the ones whose Kafka side differs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaBrokers } from '../setup/env.js';
import { cleanup, topicName } from '../kafka/helpers.js';
import { fixtures, runJobbus, runJson, startJobbus } from './spawn.js';

const queue = topicName('cli');
const env = (): Record<string, string> => ({ JOBBUS_KAFKA_BROKERS: kafkaBrokers().join(','), JOBBUS_GROUP: 'cli-test' });

afterAll(cleanup);

describe.sequential('jobbus on Kafka', () => {
  it('a worker process handles a job, dead-letters a failing one, and exits 0 on SIGTERM', async () => {
    const worker = startJobbus(['worker', '--handlers', `${fixtures}handlers.ts`, '--queue', queue], env());
    try {
      await worker.waitFor(/worker started: queues .*bus kafka/, 60_000);
      const ok = await runJson<{ id: string }>(['enqueue', queue, 'ok', '--payload', '{"on":"kafka"}'], env());
      expect(ok.ran.code, ok.ran.stderr).toBe(0);
      const fail = await runJobbus(['enqueue', queue, 'fail', '--max-attempts', '1'], env());
      expect(fail.code, fail.stderr).toBe(0);
      await worker.waitFor(new RegExp(`handled ok ${ok.json.id} \\{"on":"kafka"\\}`), 60_000);
      await worker.waitFor(/dead-lettered fail/, 60_000);
      worker.child.kill('SIGTERM');
      const ran = await worker.exited;
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stderr).toMatch(/worker stopped/);
    } finally {
      worker.child.kill('SIGKILL');
    }
  }, 150_000);

  it('dlq list and replay by id; queues shows the replayed job waiting and the DLQ empty; pause shows in queues', async () => {
    const listed = await runJson<{ entries: { entryId: string; job: { name: string } }[] }>(['dlq', 'list', queue], env());
    expect(listed.ran.code, listed.ran.stderr).toBe(0);
    expect(listed.json.entries.map((e) => e.job.name)).toEqual(['fail']);
    const replayed = await runJson(['dlq', 'replay', queue, '--id', listed.json.entries[0]!.entryId], env());
    expect(replayed.json).toMatchObject({ matched: 1, replayed: 1 });
    const after = await runJson<{ entries: unknown[] }>(['dlq', 'list', queue], env());
    expect(after.json.entries).toEqual([]);
    const stats = await runJson<{ queues: Record<string, unknown>[] }>(['queues', queue], env());
    expect(stats.json.queues).toEqual([expect.objectContaining({ queue, group: 'cli-test', waiting: 1, dlqSize: 0, paused: false })]);
    const paused = await runJobbus(['pause', queue], env());
    expect(paused.code, paused.stderr).toBe(0);
    const seen = await runJson<{ queues: { paused?: boolean }[] }>(['queues', queue], env());
    expect(seen.json.queues[0]!.paused).toBe(true);
    expect((await runJobbus(['resume', queue], env())).code).toBe(0);
  }, 90_000);

  it('a wrong broker address: an actionable message within the connect timeout, exit 3', async () => {
    const r = await runJobbus(['enqueue', queue, 'ok', '--kafka-brokers', '127.0.0.1:9'], env());
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /cannot reach Kafka at 127\.0\.0\.1:9 within 5 s: is the broker running\? check --kafka-brokers \/ JOBBUS_KAFKA_BROKERS \/ jobs\.kafka\.brokers \(this address came from --kafka-brokers\)/,
    );
    expect(r.ms).toBeLessThan(8_000);
    expect(r.stdout).toBe('');
  }, 20_000);
});
