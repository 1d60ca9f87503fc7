/**
 * A small REST client for the registry's Confluent-compatible API (node:http/https, so TLS
 * options and credentials go to one agent), with the registry's answers turned into jobbus
 * errors: unreachable or 5xx → UnavailableError, 401/403 → AuthenticationError, 409 →
 * ConflictError (an incompatible version), 404 → NotFoundError, other 4xx → InvalidArgumentError.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  AuthenticationError,
  ConflictError,
  InvalidArgumentError,
  type JobbusError,
  NotFoundError,
  UnavailableError,
} from '../../errors.js';
import type { SchemaRegistryOptions } from './types.js';

/** An HTTP error the registry answered with (kept as the `cause` of the jobbus error). */
export class RegistryHttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryHttpError';
  }
}

/** The REST client: JSON in, JSON out. */
export interface RegistryHttp {
  call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T>;
  /** The agent, shared with the schema library's own requests. */
  readonly agent: HttpAgent;
  /** Headers to add to every request (auth). */
  readonly headers: Readonly<Record<string, string>>;
}

/** The Authorization header of the configured credentials. */
function authHeaders(options: SchemaRegistryOptions): Record<string, string> {
  const auth = options.auth;
  if (!auth) return {};
  if ('token' in auth) return { authorization: `Bearer ${auth.token}` };
  return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

/** TLS verification failures: waiting does not fix them (like a refused password). */
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Map a registry answer (or a failure to get one) to a jobbus error. */
export function registryError(what: string, err: unknown): JobbusError {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && TLS_TRUST_CODES.has(code)) {
    return new AuthenticationError('registry', `schema registry certificate not trusted (${what}): ${(err as Error).message}; check the registry's tls.ca`, {
      cause: err,
    });
  }
  if (!(err instanceof RegistryHttpError)) {
    return new UnavailableError(`schema registry unreachable (${what}): ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  const msg = `schema registry refused ${what}: ${err.message} (HTTP ${err.status}${err.errorCode ? `, error ${err.errorCode}` : ''})`;
  if (err.status === 401 || err.status === 403) return new AuthenticationError('registry', `${msg}; check the registry's auth options`, { cause: err });
  if (err.status === 409) return new ConflictError(msg, { cause: err });
  if (err.status === 404) return new NotFoundError(msg, { cause: err });
  if (err.status >= 500 || err.status === 429) return new UnavailableError(msg, { cause: err });
  return new InvalidArgumentError(msg, { cause: err });
}

/** Create the REST client of `options.host`. */
export function createRegistryHttp(options: SchemaRegistryOptions): RegistryHttp {
  const base = new URL(options.host.replace(/\/+$/, '') + '/');
  const secure = base.protocol === 'https:';
  const tls = options.tls ?? {};
  const { ca, ...rest } = tls;
  const agent = secure
    ? new HttpsAgent({ keepAlive: true, ...rest, ...(ca !== undefined && { ca: typeof ca === 'string' || Buffer.isBuffer(ca) ? ca : [...ca] }) })
    : new HttpAgent({ keepAlive: true });
  const headers = authHeaders(options);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const send = secure ? httpsRequest : httpRequest;

  function call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), base);
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          agent,
          timeout: timeoutMs,
          headers: {
            accept: 'application/vnd.schemaregistry.v1+json, application/json',
            ...(data !== undefined && { 'content-type': 'application/vnd.schemaregistry.v1+json' }),
            ...headers,
          },
        },
        (res) => collect(res, resolve, reject),
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }
  return { call, agent, headers };
}

/** Read a response: JSON on 2xx, else a {@link RegistryHttpError} with the registry's message. */
function collect<T>(res: IncomingMessage, resolve: (v: T) => void, reject: (e: unknown) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('error', reject);
  res.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return resolve(json as T);
    const body = (json ?? {}) as { message?: string; error_code?: number };
    reject(new RegistryHttpError(status, body.error_code, body.message ?? (text.slice(0, 300) || res.statusMessage || 'no message')));
  });
}
