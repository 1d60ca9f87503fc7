/**
 * Produce requests of the platformatic driver written by jobbus (produce-request.ts): the
 * library's producer keeps everything it does (partitioning, leaders, idempotent sequences,
 * retries, the response), only the request body of each Produce call is written here instead of
 * by its record writer, whose buffer list and BigInt arithmetic per record cost more than all of
 * jobbus's own work per job. Versions 9–11 (Kafka 2.4+) of uncompressed, non-transactional
 * requests; anything else keeps the library's encoder.
 */
import type * as Plt from '@platformatic/kafka';
import type { PltModule } from './platformatic-driver.js';
import { encodeProduceRequest, type Crc32c, type GroupBy, type ProduceMessage, type ProduceOptions } from './produce-request.js';

/** The Produce versions written here. */
export const OWN_PRODUCE_VERSIONS = { first: 9, last: 11 } as const;

/** A protocol API as the library's clients call it. */
type ProtocolApi = ((connection: unknown, ...args: unknown[]) => void) & { readonly version: number };
type GetApi = (name: string, callback: (error: Error | null, api?: ProtocolApi) => void) => void;
type CreateRequest = (acks: number, timeout: number, messages: ProduceMessage[], options?: ProduceOptions & { compression?: string; transactionalId?: string }) => unknown;

/** The Produce API of `version` with jobbus's request writer (the library's response reader). */
function produceApi(mod: PltModule, version: number): ProtocolApi | undefined {
  const ns = (mod as unknown as Record<string, { createRequest?: CreateRequest; parseResponse?: unknown } | undefined>)[`produceV${version}`];
  if (!ns?.createRequest || !ns.parseResponse) return undefined;
  const library = ns.createRequest;
  const crc32c = mod.crc32c as unknown as Crc32c;
  const groupBy = mod.groupByProperty as unknown as GroupBy;
  const createRequest: CreateRequest = (acks = 1, timeout = 0, messages, options = {}) => {
    if ((options.compression !== undefined && options.compression !== 'none') || options.transactionalId) return library(acks, timeout, messages, options);
    const writer = mod.Writer.create().append(encodeProduceRequest(acks, timeout, messages, options, crc32c, groupBy));
    if (acks === mod.ProduceAcks.NO_RESPONSE) writer.context.noResponse = true;
    return writer;
  };
  return mod.createAPI(0, version, createRequest as never, ns.parseResponse as never) as unknown as ProtocolApi;
}

/**
 * Make `producer` write its Produce requests with jobbus's writer where the negotiated version
 * is 9–11: its API lookup (`kGetApi`, the library's exported hook) answers `Produce` with
 * {@link produceApi}; every other API, and other versions, are the library's.
 */
export function useOwnProduceWriter<K, V, HK, HV>(mod: PltModule, producer: Plt.Producer<K, V, HK, HV>): void {
  const target = producer as unknown as Record<symbol, GetApi>;
  const libraryGetApi = target[mod.kGetApi]!.bind(producer);
  const apis = new Map<number, ProtocolApi | undefined>();
  target[mod.kGetApi] = (name, callback) => {
    if (name !== 'Produce') return libraryGetApi(name, callback);
    libraryGetApi(name, (error, api) => {
      if (error || !api || api.version < OWN_PRODUCE_VERSIONS.first || api.version > OWN_PRODUCE_VERSIONS.last) return callback(error, api);
      if (!apis.has(api.version)) apis.set(api.version, produceApi(mod, api.version));
      callback(null, apis.get(api.version) ?? api);
    });
  };
}
