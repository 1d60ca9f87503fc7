/**
 * Opening jobbus for a command: the configured bus (loaded only when used, so `--help` needs no
 * broker client), checked reachable within the connect timeout. An unreachable broker becomes an
 * UnavailableError (exit 3) saying where the address came from and what to check.
 */
import { pino, type Logger } from 'pino';
import { UnavailableError, describeError } from '../errors.js';
import type { EventBus } from '../eventbus/types.js';
import { createJobbus, type Jobbus, type JobbusOptions } from '../jobbus.js';
import { prefixQueueNames, suffixQueueNames, type QueueNames } from '../jobs/queue-names.js';
import type { CliConfig } from './config-schema.js';
import { statusStoreOf, type OpenedStore } from './status-store.js';

/** A jobbus instance the command closes when done. */
export interface Opened {
  readonly jobs: Jobbus;
  close(): Promise<void>;
}

/** `promise`, or a TimeoutError-like rejection after `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function seconds(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000} s` : `${(ms / 1_000).toFixed(1)} s`;
}

/** "cannot reach Kafka at … within 5 s: is the broker running? check …" */
function unreachable(config: CliConfig, cause: unknown): UnavailableError {
  if (cause instanceof Error && (cause as { code?: string }).code === 'AUTH_FAILED') return cause as UnavailableError;
  const kafka = config.bus === 'kafka';
  const where = kafka ? (config.kafka?.brokers ?? []).join(',') : (config.nats?.servers ?? ['nats://127.0.0.1:4222']).join(',');
  const path = kafka ? 'kafka.brokers' : 'nats.servers';
  const check = kafka ? '--kafka-brokers / JOBBUS_KAFKA_BROKERS / jobs.kafka.brokers' : '--nats-servers / JOBBUS_NATS_SERVERS / jobs.nats.servers';
  const origin = config.origin(path);
  const detail = cause === undefined ? '' : ` (${(cause instanceof Error ? cause.message : describeError(cause)).slice(0, 300)})`;
  return new UnavailableError(
    `cannot reach ${kafka ? 'Kafka' : 'NATS'} at ${where} within ${seconds(config.connectTimeoutMs)}: is the broker running? ` +
      `check ${check}${origin ? ` (this address came from ${origin})` : ''}${detail}`,
    { cause },
  );
}

/** The library's log lines go to stderr: stdout holds only the command's result. */
function stderrLogger(): Logger {
  return pino({ name: 'jobbus', level: process.env.JOBBUS_LOG_LEVEL ?? 'warn' }, pino.destination(2));
}

async function busOf(config: CliConfig, logger: Logger): Promise<EventBus | undefined> {
  if (config.bus === 'kafka') {
    const { createKafkaEventBus } = await import('../eventbus/kafka/index.js');
    const k = config.kafka!;
    return createKafkaEventBus({
      brokers: k.brokers,
      ...(k.clientId !== undefined && { clientId: k.clientId }),
      ...(k.ssl !== undefined && { ssl: k.ssl }),
      ...(k.sasl !== undefined && { sasl: k.sasl }),
      connectionTimeoutMs: Math.min(3_000, config.connectTimeoutMs),
      logger,
    });
  }
  if (config.bus === 'nats') {
    const { createNatsEventBus } = await import('../eventbus/nats/index.js');
    const n = config.nats;
    return createNatsEventBus({
      servers: n?.servers ?? ['nats://127.0.0.1:4222'],
      ...(n?.subjectPrefix !== undefined && { subjectPrefix: n.subjectPrefix }),
      logger,
      connectionOptions: {
        timeout: config.connectTimeoutMs,
        name: 'jobbus-cli',
        ...(n?.user !== undefined && { user: n.user }),
        ...(n?.pass !== undefined && { pass: n.pass }),
        ...(n?.token !== undefined && { token: n.token }),
      },
    });
  }
  return undefined;
}

function namesOf(config: CliConfig): QueueNames | undefined {
  if (config.names?.dlqPrefix) return prefixQueueNames(config.names.dlqPrefix);
  if (config.names?.dlqSuffix) return suffixQueueNames(config.names.dlqSuffix);
  return undefined;
}

/**
 * Open jobbus on the configured bus and check the bus answers within `connectTimeoutMs`.
 * `worker` adds the settings only a worker process uses.
 */
export async function openJobbus(config: CliConfig, worker = false): Promise<Opened> {
  const deadline = Date.now() + config.connectTimeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());
  let bus: EventBus | undefined;
  let store: OpenedStore | undefined;
  const logger = stderrLogger();
  try {
    bus = await withDeadline(busOf(config, logger), left(), () => unreachable(config, undefined));
    if (bus) await withDeadline(bus.healthCheck(), left(), () => unreachable(config, undefined));
  } catch (err) {
    void bus?.close().catch(() => undefined);
    throw err instanceof UnavailableError && err.message.startsWith('cannot reach') ? err : unreachable(config, err);
  }
  try {
    store = await statusStoreOf(config, bus);
  } catch (err) {
    await bus?.close().catch(() => undefined);
    throw err;
  }
  const names = namesOf(config);
  const options: JobbusOptions = {
    ...(bus && { bus }),
    group: config.group,
    logger,
    ...(names && { names }),
    ...(worker && config.prefetch !== undefined && { prefetch: config.prefetch }),
    ...(worker && config.ackTimeoutMs !== undefined && { ackTimeoutMs: config.ackTimeoutMs }),
    ...(store && { status: store.store }),
  };
  const jobs = createJobbus(options);
  return {
    jobs,
    async close() {
      try {
        await jobs.close();
      } finally {
        await store?.close();
      }
    },
  };
}
