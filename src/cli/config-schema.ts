/**
 * The shape of the command's configuration, as written under `jobs:` in a YAML file (and set by
 * flags and environment variables): the bus and its addresses, the consumer group, the DLQ
 * naming, the optional job-status store and the worker settings of src/jobs/config.ts.
 */
import { z } from 'zod';
import { workerConfigSchema } from '../jobs/config.js';

const hostPort = z.string().trim().regex(/^[^\s/:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9092');
const positiveMs = z.number().int().positive();

/** Worker settings (src/jobs/config.ts) with every field optional: the handlers module and flags add the rest. */
const workerSection = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const r = workerConfigSchema.partial().safeParse(value);
  if (r.success) return;
  for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
});

/** The `jobs:` section. */
export const cliConfigSchema = z
  .object({
    /** Which bus: `kafka`, `nats` or `memory` (one process only). Inferred when only one of `kafka`/`nats` is set. */
    bus: z.enum(['kafka', 'nats', 'memory']).optional(),
    /** Consumer group of the workers (stats, pause and worker use it). Default `jobbus`. */
    group: z.string().trim().min(1).optional(),
    /** How long to wait for the broker before giving up with exit code 3, ms. Default 5 000. */
    connectTimeoutMs: positiveMs.optional(),
    kafka: z
      .object({
        brokers: z.array(hostPort).min(1),
        clientId: z.string().trim().min(1).optional(),
        ssl: z.boolean().optional(),
        sasl: z
          .object({ mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']), username: z.string().min(1), password: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    nats: z
      .object({
        servers: z.array(z.string().trim().min(1)).min(1),
        user: z.string().min(1).optional(),
        pass: z.string().min(1).optional(),
        token: z.string().min(1).optional(),
        subjectPrefix: z.string().trim().min(1).optional(),
      })
      .strict()
      .optional(),
    /** How DLQs are named: `{ dlqSuffix: '.dlq' }` (default) or `{ dlqPrefix: 'dlq.' }`; every process must agree. */
    names: z
      .object({ dlqSuffix: z.string().trim().min(1).optional(), dlqPrefix: z.string().trim().min(1).optional() })
      .strict()
      .refine((n) => !(n.dlqSuffix && n.dlqPrefix), { message: 'give dlqSuffix or dlqPrefix, not both' })
      .optional(),
    /** Jobs a worker process holds per queue at once. */
    prefetch: z.number().int().positive().optional(),
    /** How soon the bus hands the jobs of a crashed worker to another, ms. */
    ackTimeoutMs: positiveMs.optional(),
    /** The optional job-status store read by `jobbus status` and written by `jobbus worker`. */
    status: z
      .object({
        store: z.enum(['redis', 'nats-kv']),
        /** Redis URL, or NATS server URL(s) for `nats-kv` (default: the bus's NATS connection). */
        url: z.string().trim().min(1).optional(),
        /** NATS KV bucket. */
        bucket: z.string().trim().min(1).optional(),
        /** Redis key prefix. */
        prefix: z.string().min(1).optional(),
        /** How long entries live, ms. */
        ttlMs: positiveMs.optional(),
      })
      .strict()
      .optional(),
    /** Worker settings (queues, concurrency, retry, …) as in the library's worker config. */
    worker: workerSection.optional(),
  })
  .strict();

/** The `jobs:` section as validated. */
export type CliConfigInput = z.output<typeof cliConfigSchema>;

/** The configuration a command runs with: validated, bus decided, defaults filled in. */
export interface CliConfig extends Omit<CliConfigInput, 'bus' | 'group' | 'connectTimeoutMs'> {
  readonly bus: 'kafka' | 'nats' | 'memory';
  readonly group: string;
  readonly connectTimeoutMs: number;
  /** Where a setting came from, for messages: `--kafka-brokers`, `JOBBUS_KAFKA_BROKERS` or `jobs.kafka.brokers in ./jobbus.yaml`. */
  origin(path: string): string | undefined;
}
