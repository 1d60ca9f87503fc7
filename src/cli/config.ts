/**
 * Configuration of a command from three sources, the first that sets a value winning: flags,
 * environment variables, then the YAML file (`--config FILE` or `JOBBUS_CONFIG`, a top-level
 * `jobs:` mapping). Validated with zod; an error names the flag, the environment variable or
 * the YAML path (`jobs.kafka.brokers[0]`) that holds the bad value.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ValidationError } from '../errors.js';
import { stringFlag, type FlagSpecs, type ParsedArgs } from './args.js';
import { cliConfigSchema, type CliConfig } from './config-schema.js';
import { parseDuration } from './time.js';

/** Flags every command takes (connection, output, help). */
export const GLOBAL_FLAGS: FlagSpecs = {
  config: { type: 'string', value: 'FILE', description: 'YAML configuration file (top-level `jobs:`); env JOBBUS_CONFIG' },
  bus: { type: 'string', value: 'kafka|nats|memory', description: 'the bus; env JOBBUS_BUS (inferred when only Kafka or NATS is configured)' },
  'kafka-brokers': { type: 'string', value: 'HOST:PORT,…', description: 'Kafka bootstrap servers; env JOBBUS_KAFKA_BROKERS' },
  'kafka-client-id': { type: 'string', value: 'ID', description: 'Kafka client id; env JOBBUS_KAFKA_CLIENT_ID' },
  'nats-servers': { type: 'string', value: 'URL,…', description: 'NATS servers; env JOBBUS_NATS_SERVERS' },
  group: { type: 'string', value: 'GROUP', description: 'consumer group of the workers (default jobbus); env JOBBUS_GROUP' },
  'status-store': { type: 'string', value: 'redis|nats-kv', description: 'job-status store; env JOBBUS_STATUS_STORE' },
  'status-url': { type: 'string', value: 'URL', description: 'its address; env JOBBUS_STATUS_URL' },
  'connect-timeout': { type: 'string', value: 'DURATION', description: 'give up on an unreachable broker after this (default 5s); env JOBBUS_CONNECT_TIMEOUT' },
  json: { type: 'boolean', description: 'print one JSON document on stdout instead of a table' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

type Path = readonly string[];
interface Setting {
  readonly path: Path;
  readonly flag: string;
  readonly env: string;
  readonly kind: 'text' | 'list' | 'duration';
}

/** Settings that flags and environment variables can set. */
const SETTINGS: readonly Setting[] = [
  { path: ['bus'], flag: 'bus', env: 'JOBBUS_BUS', kind: 'text' },
  { path: ['kafka', 'brokers'], flag: 'kafka-brokers', env: 'JOBBUS_KAFKA_BROKERS', kind: 'list' },
  { path: ['kafka', 'clientId'], flag: 'kafka-client-id', env: 'JOBBUS_KAFKA_CLIENT_ID', kind: 'text' },
  { path: ['nats', 'servers'], flag: 'nats-servers', env: 'JOBBUS_NATS_SERVERS', kind: 'list' },
  { path: ['group'], flag: 'group', env: 'JOBBUS_GROUP', kind: 'text' },
  { path: ['status', 'store'], flag: 'status-store', env: 'JOBBUS_STATUS_STORE', kind: 'text' },
  { path: ['status', 'url'], flag: 'status-url', env: 'JOBBUS_STATUS_URL', kind: 'text' },
  { path: ['connectTimeoutMs'], flag: 'connect-timeout', env: 'JOBBUS_CONNECT_TIMEOUT', kind: 'duration' },
];

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `jobs.kafka.brokers[0]` */
export function yamlPath(path: readonly PropertyKey[]): string {
  return ['jobs', ...path].reduce<string>((acc, p, i) => (typeof p === 'number' ? `${acc}[${p}]` : i === 0 ? String(p) : `${acc}.${String(p)}`), '');
}

function setIn(tree: Tree, path: Path, value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    if (!isTree(node[key])) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

/** Every leaf (arrays count as leaves) of `tree`, with its path. */
function leaves(tree: Tree, prefix: string[] = []): [string[], unknown][] {
  return Object.entries(tree).flatMap(([k, v]) => (isTree(v) && Object.keys(v).length > 0 ? leaves(v, [...prefix, k]) : [[[...prefix, k], v] as [string[], unknown]]));
}

function readYaml(file: string, named: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ValidationError(named, `cannot read the config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(named, `${file} is not valid YAML: ${doc.errors[0]!.message}`, { cause: doc.errors[0] });
  }
  const root: unknown = doc.toJS();
  if (!isTree(root) || !isTree(root.jobs)) {
    throw new ValidationError(named, `${file}: expected a top-level \`jobs:\` mapping (jobs: { bus: kafka, kafka: { brokers: [...] } })`);
  }
  const unknownTop = Object.keys(root).filter((k) => k !== 'jobs');
  if (unknownTop.length > 0) throw new ValidationError(named, `${file}: unknown top-level key "${unknownTop[0]}" (only \`jobs:\` is read)`);
  return root.jobs;
}

function fromText(s: Setting, text: string, where: string): unknown {
  if (s.kind === 'list') return text.split(',').map((x) => x.trim()).filter(Boolean);
  if (s.kind === 'duration') return parseDuration(text, where);
  return text.trim();
}

/** The name of what holds the bad value (flag, variable or YAML path) and what is wrong with it. */
function describeIssue(issue: z.core.$ZodIssue, origins: ReadonlyMap<string, string>, file: string | undefined): { name: string; message: string } {
  const path = issue.path;
  let origin: string | undefined;
  for (let n = path.length; n >= 0 && origin === undefined; n--) origin = origins.get(path.slice(0, n).map(String).join('.'));
  const keys = issue.code === 'unrecognized_keys' ? ` ${issue.keys.map((k) => `"${k}"`).join(', ')}` : '';
  if (origin !== undefined && !origin.startsWith('jobs.')) return { name: origin, message: `${issue.message}${keys}` };
  return { name: yamlPath(path), message: `${issue.message}${keys}${file ? ` (in ${file})` : ''}` };
}

/** The sources of a command: its parsed flags, the environment and the working directory. */
export interface ConfigSources {
  readonly args: ParsedArgs;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** Read, merge and validate the configuration. Throws a ValidationError naming the flag, variable or YAML path. */
export function loadConfig({ args, env, cwd }: ConfigSources): CliConfig {
  const origins = new Map<string, string>();
  const fileFlag = stringFlag(args, 'config');
  const fileName = fileFlag ?? env.JOBBUS_CONFIG;
  const tree: Tree = {};
  if (fileName) {
    const file = resolve(cwd, fileName);
    const fromFile = readYaml(file, fileFlag ? '--config' : 'JOBBUS_CONFIG');
    for (const [path, value] of leaves(fromFile)) {
      setIn(tree, path, value);
      origins.set(path.join('.'), `${yamlPath(path)} in ${fileName}`);
    }
  }
  for (const s of SETTINGS) {
    const flag = stringFlag(args, s.flag);
    const envValue = env[s.env];
    const [text, where] = flag !== undefined ? [flag, `--${s.flag}`] : envValue ? [envValue, s.env] : [undefined, ''];
    if (text === undefined) continue;
    setIn(tree, s.path, fromText(s, text, where));
    origins.set(s.path.join('.'), where);
  }
  const result = cliConfigSchema.safeParse(tree);
  if (!result.success) {
    const [first, ...more] = result.error.issues.map((i) => describeIssue(i, origins, fileName));
    const rest = more.map((i) => `; ${i.name}: ${i.message}`).join('');
    throw new ValidationError(first!.name, `${first!.message}${rest}`, { cause: result.error, issues: [first!, ...more].map((i) => ({ path: i.name, message: i.message })) });
  }
  const data = result.data;
  const bus = data.bus ?? (data.kafka && !data.nats ? 'kafka' : data.nats && !data.kafka ? 'nats' : undefined);
  if (bus === undefined) {
    throw new ValidationError('bus', 'no bus chosen: pass --bus kafka|nats|memory, set JOBBUS_BUS, or `jobs.bus` in the config file');
  }
  if (bus === 'kafka' && !data.kafka) {
    throw new ValidationError('kafka.brokers', 'the Kafka bus needs its brokers: pass --kafka-brokers, set JOBBUS_KAFKA_BROKERS, or `jobs.kafka.brokers` in the config file');
  }
  return {
    ...data,
    bus,
    group: data.group ?? 'jobbus',
    connectTimeoutMs: data.connectTimeoutMs ?? 5_000,
    origin: (path) => origins.get(path),
  };
}
