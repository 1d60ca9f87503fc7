/**
 * Registry-schema jobs through the face, against the real registry, on one bus (memory, Kafka,
 * NATS: only the bus changes). Enqueue encodes and validates; consume decodes and validates
 * before the handler; what fails goes to the DLQ with reason `schema: …`, no retries spent.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConflictError,
  createJobbus,
  createSchemaRegistry,
  defineJob,
  SchemaError,
  type EventBus,
  type Job,
  type Jobbus,
  type JobbusOptions,
} from '../../src/index.js';
import { forgetDefinition } from '../../src/advanced.js';
import { waitFor } from '../../src/testing/wait.js';
import { registryUrl, uniqueName } from '../setup/env.js';
import { startProxy, type CuttableProxy } from './proxy.js';
import { signupAvro } from './schemas.js';

/** A fresh bus and a unique queue name per test. */
export interface RegistryJobsTarget {
  makeBus(): Promise<EventBus>;
  queue(prefix: string): string;
  /** Longest a job may take to arrive on this bus, ms. */
  readonly arrivalMs: number;
}

interface Signup {
  email: string;
  plan: number;
}
const signupJson = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { email: { type: 'string' }, plan: { type: 'integer' } },
  required: ['email', 'plan'],
};
const RETRY = { retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50, jitter: 0 } };

/** Register the registry job cases for one bus. */
export function registryJobCases(name: string, target: RegistryJobsTarget): void {
  describe(`registry schemas for jobs on ${name}`, () => {
    const open: Jobbus[] = [];
    const defined: string[] = [];
    const proxies: CuttableProxy[] = [];
    const registry = createSchemaRegistry({ host: registryUrl() });
    afterEach(async () => {
      await Promise.allSettled(open.splice(0).map((j) => j.close()));
      for (const d of defined.splice(0)) forgetDefinition(d);
    });
    afterAll(async () => {
      await Promise.allSettled(proxies.map((p) => p.close()));
    });
    /** Messages published per topic, counted at the bus (what "nothing published" is checked against). */
    const published = new Map<string, number>();
    function counted(bus: EventBus): EventBus {
      return new Proxy(bus, {
        get(t, p) {
          const v: unknown = Reflect.get(t, p, t);
          if (typeof v !== 'function') return v;
          if (p === 'publish') return (topic: string, ...rest: unknown[]) => (published.set(topic, (published.get(topic) ?? 0) + 1), v.call(t, topic, ...rest));
          if (p === 'publishBatch') return (topic: string, msgs: readonly unknown[], ...rest: unknown[]) => (published.set(topic, (published.get(topic) ?? 0) + msgs.length), v.call(t, topic, msgs, ...rest));
          return (v as (...a: unknown[]) => unknown).bind(t);
        },
      });
    }
    async function jobbus(extra: Omit<JobbusOptions, 'bus'> = {}): Promise<Jobbus> {
      const jobs = createJobbus({ bus: counted(await target.makeBus()), ackTimeoutMs: 5_000, schemaRegistry: { host: registryUrl() }, ...extra });
      open.push(jobs);
      return jobs;
    }
    function define<D extends { name: string }>(def: D): D {
      defined.push(def.name);
      return def;
    }
    async function deadLetters(jobs: Jobbus, queue: string, n: number) {
      return waitFor(async () => {
        const list = await jobs.dlq.listDLQ(queue, 10);
        return list.length >= n ? list : undefined;
      }, `${n} dead letter(s)`, target.arrivalMs);
    }

    it('Avro (topic-name subject): enqueue writes the wire format, the typed handler gets the decoded value', async () => {
      const queue = target.queue('reg-avro');
      const got: { payload: Signup; job: Job }[] = [];
      const def = define(
        defineJob<Signup>({
          name: `${queue}-signup`,
          queue,
          registry: { type: 'AVRO', schema: signupAvro },
          handler: (payload, ctx) => void got.push({ payload, job: ctx.job }),
        }),
      );
      expect(def.registrySubject).toBe(`${queue}-value`);
      const jobs = await jobbus();
      await jobs.worker({ definitions: [def] }).start();
      const job = await jobs.enqueue(def, { email: 'ada@example.com', plan: 2 });
      const { id } = await registry.getSchema(`${queue}-value`);
      expect(job.payload[0]).toBe(0);
      expect(Buffer.from(job.payload).readInt32BE(1)).toBe(id);
      expect(job.contentType).toBe('application/vnd.jobbus.registry.avro');
      await waitFor(() => got.length === 1, 'the job to run', target.arrivalMs);
      expect({ ...got[0]!.payload }).toEqual({ email: 'ada@example.com', plan: 2 });
      expect(got[0]!.job.id).toBe(job.id);
    });

    it('zod and JSON Schema together; an invalid payload is a SchemaError naming field and subject, nothing published', async () => {
      const queue = target.queue('reg-json');
      const got: Signup[] = [];
      const def = define(
        defineJob({
          name: `${queue}-signup`,
          queue,
          schema: z.object({ email: z.string(), plan: z.number() }),
          registry: { type: 'JSON', schema: signupJson },
          handler: (payload) => void got.push(payload),
        }),
      );
      const jobs = await jobbus();
      await jobs.worker({ definitions: [def] }).start();
      // zod passes (plan is a number), the registry does not (plan must be an integer).
      const err = await jobs.enqueue(def, { email: 'a@b.c', plan: 1.5 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaError);
      expect((err as SchemaError).field).toBe('payload.plan');
      expect((err as SchemaError).subject).toBe(`${queue}-value`);
      expect((err as Error).message).toContain(`${queue}-value`);
      // zod fails first for a string plan, as without a registry.
      await expect(jobs.enqueue(def, { email: 'a@b.c', plan: 'x' as unknown as number })).rejects.toBeInstanceOf(SchemaError);
      const bulk = await jobs.enqueueBulk(def, [{ payload: { email: 'x@y.z', plan: 1 } }, { payload: { email: 'bad', plan: 0.5 } }]).catch((e: unknown) => e);
      expect((bulk as Error).message).toMatch(/^item 1: /);
      expect(published.get(queue) ?? 0).toBe(0);
      await jobs.enqueue(def, { email: 'ok@b.c', plan: 3 });
      expect(published.get(queue)).toBe(1);
      await waitFor(() => got.length === 1, 'the valid job', target.arrivalMs);
      // Only the valid job was published: a later one arrives and nothing else did.
      await jobs.enqueue(def, { email: 'ok2@b.c', plan: 4 });
      await waitFor(() => got.length === 2, 'the second valid job', target.arrivalMs);
      expect(got).toEqual([
        { email: 'ok@b.c', plan: 3 },
        { email: 'ok2@b.c', plan: 4 },
      ]);
    });

    it('warn mode: an invalid payload is published and handled, with warnings counted on both sides', async () => {
      const queue = target.queue('reg-warn');
      const got: unknown[] = [];
      const json = define(
        defineJob<Signup>({
          name: `${queue}-json`,
          queue,
          registry: { type: 'JSON', schema: signupJson, subject: uniqueName('warn-json'), mode: 'warn' },
          handler: (p) => void got.push(p),
        }),
      );
      const avro = define(
        defineJob<Signup>({
          name: `${queue}-avro`,
          queue,
          registry: { type: 'AVRO', schema: signupAvro, subject: uniqueName('warn-avro'), mode: 'warn' },
          handler: (p) => void got.push({ ...p }),
        }),
      );
      const jobs = await jobbus();
      await jobs.worker({ definitions: [json, avro] }).start();
      const framed = await jobs.enqueue(json, { email: 'w@x.y', plan: 0.5 });
      expect(framed.payload[0]).toBe(0); // JSON Schema data is framed even when it does not match
      const plain = await jobs.enqueue(avro, { email: 'w@x.y', plan: 'gold' as unknown as number });
      expect(plain.contentType).toBe('application/json'); // Avro cannot write it: plain JSON
      expect(jobs.registryWarnings.enqueue).toBe(2);
      await waitFor(() => got.length === 2, 'both invalid jobs handled', target.arrivalMs);
      expect(got).toEqual(expect.arrayContaining([{ email: 'w@x.y', plan: 0.5 }, { email: 'w@x.y', plan: 'gold' }]));
      expect(jobs.registryWarnings.consume).toBe(2);
    });

    it('consume: wrong magic byte, unknown schema id and invalid data go to the DLQ with reason "schema: …", no retries spent', async () => {
      const queue = target.queue('reg-poison');
      const subject = uniqueName('poison-value');
      let ran = 0;
      const def = define(
        defineJob<Signup>({ name: `${queue}-signup`, queue, registry: { type: 'JSON', schema: signupJson, subject }, handler: () => void ran++ }),
      );
      await registry.register(subject, { type: 'JSON', schema: signupJson });
      const invalid = await registry.encode(subject, { email: 'x' }, { validate: false });
      const jobs = await jobbus();
      await jobs.worker({ definitions: [def], ...RETRY }).start();
      const name = def.name;
      await jobs.enqueue({ name, queue, payload: { email: 'plain@json', plan: 1 } });
      await jobs.enqueue({ name, queue, payload: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf1, 0x7b, 0x7d]), contentType: 'application/octet-stream' });
      await jobs.enqueue({ name, queue, payload: invalid, contentType: 'application/octet-stream' });
      const dead = await deadLetters(jobs, queue, 3);
      const reasons = dead.map((d) => d.reason).sort();
      expect(reasons.every((r) => r.startsWith('schema: '))).toBe(true);
      expect(reasons.join('\n')).toContain('wrong magic byte 0x7b');
      expect(reasons.join('\n')).toContain('unknown schema id');
      expect(reasons.join('\n')).toMatch(/plan: .*required property 'plan'/);
      expect(dead.every((d) => d.job.attempt === 0)).toBe(true);
      expect(ran).toBe(0);
    });

    it('registry unreachable: a job whose schema is not cached waits (no attempt spent, not dead) and runs once it is back', async () => {
      const queue = target.queue('reg-cut');
      const subject = uniqueName('cut-value');
      const proxy = await startProxy(registryUrl());
      proxies.push(proxy);
      const got: { payload: Signup; attempt: number }[] = [];
      const def = define(
        defineJob<Signup>({ name: `${queue}-signup`, queue, registry: { type: 'AVRO', subject }, handler: (p, ctx) => void got.push({ payload: { ...p }, attempt: ctx.attempt }) }),
      );
      await registry.register(subject, { type: 'AVRO', schema: signupAvro });
      // Encoded by another client: the worker's registry client has not seen this id.
      const bytes = await registry.encode(subject, { email: 'late@example.com', plan: 1 });
      const jobs = await jobbus({ schemaRegistry: { host: proxy.url, timeoutMs: 1_000 }, registryRetryMs: 200 });
      const putOff: string[] = [];
      const hooks = { onRescheduled: (_job: Job, info: { reason: string }) => void putOff.push(info.reason) };
      await jobs.worker({ definitions: [def], ...RETRY }, { hooks }).start();
      await proxy.cut();
      await jobs.enqueue({ name: def.name, queue, payload: bytes, contentType: 'application/vnd.jobbus.registry.avro' });
      // More rounds than maxAttempts (3) while it is cut: retry-later spends no attempt, the job neither runs nor dies.
      await waitFor(() => putOff.length >= 4, 'four retry-later rounds', target.arrivalMs + 5_000);
      expect(putOff[0]).toContain('schema registry unavailable');
      expect(got).toEqual([]);
      expect(await jobs.dlq.listDLQ(queue, 10)).toEqual([]);
      await proxy.restore();
      await waitFor(() => got.length === 1, 'the job to run once the registry is back', target.arrivalMs);
      expect(got[0]).toEqual({ payload: { email: 'late@example.com', plan: 1 }, attempt: 0 });
    });

    it('evolution: a compatible version registers and old jobs still decode; an incompatible one is refused; the level is configurable', async () => {
      const queue = target.queue('reg-evolve');
      const subject = uniqueName('evolve-value');
      const got: unknown[] = [];
      const v1 = define(defineJob<Signup>({ name: `${queue}-v1`, queue, registry: { type: 'AVRO', schema: signupAvro, subject }, handler: () => undefined }));
      const v2Schema = { ...signupAvro, fields: [...signupAvro.fields, { name: 'source', type: 'string', default: 'web' }] };
      const v2 = define(
        defineJob<Signup & { source: string }>({ name: `${queue}-v2`, queue, registry: { type: 'AVRO', schema: v2Schema, subject }, handler: (p) => void got.push({ ...p }) }),
      );
      const jobs = await jobbus();
      const old = await jobs.enqueue(v1, { email: 'old@example.com', plan: 1 });
      await jobs.enqueue(v2, { email: 'new@example.com', plan: 2, source: 'app' });
      expect((await registry.getSchema(subject)).version).toBe(2);
      // The v2 handler reads the v1 job's bytes too (schema by the id they carry).
      await jobs.worker({ definitions: [v2] }).start();
      await jobs.enqueue({ name: v2.name, queue, payload: old.payload, contentType: old.contentType });
      await waitFor(() => got.length === 2, 'both versions handled', target.arrivalMs);
      expect(got).toEqual(expect.arrayContaining([{ email: 'old@example.com', plan: 1 }, { email: 'new@example.com', plan: 2, source: 'app' }]));

      const breaking = { ...signupAvro, fields: [...signupAvro.fields, { name: 'tier', type: 'int' }] };
      const v3 = define(defineJob<Signup>({ name: `${queue}-v3`, queue, registry: { type: 'AVRO', schema: breaking, subject }, handler: () => undefined }));
      const refused = await jobs.enqueue(v3, { email: 'x@y.z', plan: 1, tier: 1 } as Signup).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConflictError);
      expect((refused as Error).message).toContain(subject);
      const relaxed = define(
        defineJob<Signup>({ name: `${queue}-v3b`, queue, registry: { type: 'AVRO', schema: breaking, subject, compatibility: 'NONE' }, handler: () => undefined }),
      );
      await jobs.enqueue(relaxed, { email: 'x@y.z', plan: 1, tier: 1 } as Signup);
      expect(await registry.getCompatibility(subject)).toBe('NONE');
      expect((await registry.getSchema(subject)).version).toBe(3);
    });

    it('record-name subject strategy and a pinned version', async () => {
      const queue = target.queue('reg-record');
      const ns = `dev.jobbus.t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
      const schema = { ...signupAvro, namespace: ns };
      const got: unknown[] = [];
      const def = define(
        defineJob<Signup>({ name: `${queue}-rec`, queue, registry: { type: 'AVRO', schema, subjectStrategy: 'record' }, handler: (p) => void got.push({ ...p }) }),
      );
      expect(def.registrySubject).toBe(`${ns}.Signup`);
      const jobs = await jobbus();
      await jobs.worker({ definitions: [def] }).start();
      const job = await jobs.enqueue(def, { email: 'r@example.com', plan: 5 });
      const v1 = await registry.getSchema(`${ns}.Signup`, 1);
      expect(Buffer.from(job.payload).readInt32BE(1)).toBe(v1.id);
      const pinned = define(
        defineJob<Signup>({ name: `${queue}-pinned`, queue, registry: { type: 'AVRO', subject: `${ns}.Signup`, version: 1 }, handler: (p) => void got.push({ ...p }) }),
      );
      const viaPin = await jobs.enqueue(pinned, { email: 'p@example.com', plan: 6 });
      expect(Buffer.from(viaPin.payload).readInt32BE(1)).toBe(v1.id);
      await waitFor(() => got.length === 1, 'the record-named job', target.arrivalMs);
      expect(got[0]).toEqual({ email: 'r@example.com', plan: 5 });
    });
  });
}
