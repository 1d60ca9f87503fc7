/**
 * The schema registry client's public types: what it is configured with and what it offers.
 * It knows subjects, schemas, ids and bytes; nothing of jobs.
 */

/** Schema languages a Confluent-compatible registry stores. */
export type RegistrySchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';

/** A subject's compatibility level (checked by the registry when a new version registers). */
export type CompatibilityLevel =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

/** A schema reference (a named schema of another subject, at a version). */
export interface RegistrySchemaReference {
  readonly name: string;
  readonly subject: string;
  readonly version: number;
}

/** A schema to register: its language and its text (an object is JSON-serialised). */
export interface RegistrySchemaSource {
  readonly type: RegistrySchemaType;
  readonly schema: string | object;
  readonly references?: readonly RegistrySchemaReference[];
}

/** A registered schema version as the registry reports it. */
export interface RegisteredSchema {
  /** Schema id as the Confluent-compatible API reports it, the id the wire format carries (on Apicurio: the content id, shared by equal schemas under several subjects). */
  readonly id: number;
  /** Version within the subject. */
  readonly version: number;
  readonly subject: string;
  readonly type: RegistrySchemaType;
  /** The schema text. */
  readonly schema: string;
}

/** Credentials: HTTP basic, or a bearer token. Never logged. */
export type RegistryAuth = { readonly username: string; readonly password: string } | { readonly token: string };

/** TLS options passed to Node's https agent. */
export interface RegistryTlsOptions {
  /** Trusted CA certificate(s), PEM. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate (mutual TLS), PEM. */
  readonly cert?: string | Buffer;
  /** Client key (mutual TLS), PEM. */
  readonly key?: string | Buffer;
  /** Default true; false accepts any certificate (tests only). */
  readonly rejectUnauthorized?: boolean;
  /** SNI server name, when it differs from the host. */
  readonly servername?: string;
}

/** Options of {@link createSchemaRegistry}. */
export interface SchemaRegistryOptions {
  /** Base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081` or Apicurio's `…/apis/ccompat/v7`. */
  readonly host: string;
  readonly auth?: RegistryAuth;
  /** TLS settings for an `https://` host. */
  readonly tls?: RegistryTlsOptions;
  /** Per-request timeout, ms. Default 5 000. */
  readonly timeoutMs?: number;
  /** How long the id of a subject's latest version is reused before asking again, ms. Default 30 000. */
  readonly latestTtlMs?: number;
}

/** Which version of a subject to encode with. */
export interface RegistryEncodeOptions {
  /** A pinned version; default the latest (re-read every `latestTtlMs`). */
  readonly version?: number;
  /**
   * False: frame the value even when it does not match (possible for JSON Schema only; Avro
   * and Protobuf cannot write what does not match). Default true.
   */
  readonly validate?: boolean;
}

/** Options of {@link SchemaRegistry.decode}. */
export interface RegistryDecodeOptions {
  /** False: JSON Schema data that does not match is returned with its `issues` instead of failing. Default true. */
  readonly validate?: boolean;
}

/** A decoded registry-framed payload. */
export interface RegistryDecoded {
  readonly value: unknown;
  /** The schema id the bytes carried. */
  readonly schemaId: number;
  /** With `validate: false`: what did not match (empty when it all did). */
  readonly issues: readonly { readonly path: string; readonly message: string }[];
}

/**
 * A Confluent-compatible schema registry. Errors: `SchemaError` for data that does not match
 * (naming subject and field) and for bytes that are not registry-framed or carry an unknown id;
 * `ConflictError` for an incompatible new version (with the registry's message);
 * `UnavailableError` (retryable) when the registry cannot be reached; `AuthenticationError`
 * when it refuses the credentials.
 */
export interface SchemaRegistry {
  /** Register `schema` under `subject` (idempotent for an identical schema). */
  register(subject: string, schema: RegistrySchemaSource): Promise<RegisteredSchema>;
  /** A subject's version (`latest` by default). */
  getSchema(subject: string, version?: number | 'latest'): Promise<RegisteredSchema>;
  /** Set a subject's compatibility level. */
  setCompatibility(subject: string, level: CompatibilityLevel): Promise<void>;
  /** A subject's compatibility level, else the registry's global one. */
  getCompatibility(subject: string): Promise<CompatibilityLevel>;
  /** Validate `value` against the subject's schema (pinned or latest) and frame it: magic byte 0, 4-byte id, body. */
  encode(subject: string, value: unknown, options?: RegistryEncodeOptions): Promise<Uint8Array>;
  /** Decode any registry-framed bytes by their schema id (schemas cached by id). */
  decode(bytes: Uint8Array, options?: RegistryDecodeOptions): Promise<RegistryDecoded>;
  /** Throws when the registry does not answer. */
  healthCheck(): Promise<void>;
}
