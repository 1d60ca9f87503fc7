/**
 * What the broker setup provides and where: versions, default ports and addresses, the
 * JOBBUS_* variables, and the shapes every `ensure*` function returns.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Kafka server version the tests start (Maven Central jars). */
export const KAFKA_VERSION = '4.2.1';
/** Apicurio Registry version the tests start on Java 21+. */
export const APICURIO_VERSION = '3.3.3';
/** Runs on Java 17; used only when no JDK >= 21 can be found. */
export const APICURIO_JAVA17_VERSION = '3.0.9';

/** Kafka's preferred client port (a free one if it is taken). */
export const DEFAULT_KAFKA_PORT = 39092;
/** The registry's preferred HTTP port (a free one if it is taken). */
export const DEFAULT_REGISTRY_PORT = 38081;

/** Environment variables that publish (or override) each address. */
export const ENV = {
  kafka: 'JOBBUS_KAFKA_BROKERS',
  registry: 'JOBBUS_REGISTRY_URL',
  nats: 'JOBBUS_NATS_URL',
  redis: 'JOBBUS_REDIS_URL',
  pg: 'JOBBUS_PG_URL',
} as const;
/** One of the five services the integration tests need. */
export type ServiceName = keyof typeof ENV;

/** Addresses of the services this machine runs itself. */
export const DEFAULTS = {
  nats: 'nats://127.0.0.1:4222',
  redis: 'redis://127.0.0.1:6379',
  pg: 'postgres://postgres@127.0.0.1:5432/test',
} as const;

/** The repository's root folder. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Run dirs, pid files and the `brokers:up` env file. */
export const BROKERS_DIR = path.join(REPO_ROOT, '.brokers');

/** The last line of every "services unavailable" error. */
export const FIX_HINT = 'run through `npm test`, `npm run brokers:up`, or `docker compose up -d` with the JOBBUS_* variables from docker-compose.yml';

/** One service made available by an `ensure*` function. */
export interface Service {
  name: ServiceName;
  /** The value of the service's JOBBUS_* variable. */
  address: string;
  /** How the address was obtained. */
  origin: 'started' | 'running' | 'restarted' | 'env' | 'brokers:up';
  /** Process id of a process this setup started (Kafka, Apicurio). */
  pid?: number;
  /** Milliseconds spent making the service available. */
  ms: number;
  /** Stops what this setup started; a no-op otherwise. */
  stop(): Promise<void>;
}

/** What every `ensure*` function takes. */
export interface EnsureOptions {
  /** Folder for this run's logs, configs and Kafka data. */
  runDir: string;
  /** Keep started JVMs running after this process exits (npm run brokers:up). */
  detached?: boolean;
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
  /** Environment to read overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Addresses of brokers started by `npm run brokers:up`, reused instead of starting new ones. */
  reuse?: Partial<Record<ServiceName, string>>;
}

/** Any failure to make a service available; its message says what to do. */
export class BrokerSetupError extends Error {
  override name = 'BrokerSetupError';
}
