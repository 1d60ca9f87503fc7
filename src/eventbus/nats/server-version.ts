/**
 * What the connected nats-server can be trusted with, by version.
 *
 * nats-server before 2.9.15 loses a consumer's ack-pending state on a partial stream purge
 * (`STREAM.PURGE` with `seq`/`keep`): every message above the purge point that was delivered
 * and not yet acked (nak-delayed, held by a handler, lease expired) is never redelivered.
 * Fixed by nats-server PR #3892 ("Fixed bug that would lose ack pending state during partial
 * stream purge", merged 2023-02-20), released in 2.9.15 (listed in the 2.9.15 release notes).
 * Reproduced on 2.9.10 with plain JetStream; per-message deletes (`STREAM.MSG.DELETE`) below
 * the ack floor keep that state on 2.9.10 (see test/nats/retention.test.ts).
 */

/** A parsed `major.minor.patch` server version. */
export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** Parse `2.9.10`, `v2.10.3-beta.1`…; undefined when it is not a version. */
export function parseServerVersion(text: string | undefined): ServerVersion | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text ?? '');
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
}

/** `a` is at least `b`. */
export function atLeast(a: ServerVersion, b: ServerVersion): boolean {
  if (a.major !== b.major) return a.major > b.major;
  if (a.minor !== b.minor) return a.minor > b.minor;
  return a.patch >= b.patch;
}

/** First release with the partial-purge fix (nats-server PR #3892). */
export const PARTIAL_PURGE_FIXED: ServerVersion = { major: 2, minor: 9, patch: 15 };

/** How settled messages below the ack floor are dropped from a queue stream. */
export type CleanupMethod = 'purge' | 'delete';

/**
 * `purge` (one `STREAM.PURGE {seq}` request) where the server keeps ack-pending state across
 * a partial purge; `delete` (one `STREAM.MSG.DELETE` per message) on older servers and on a
 * server whose version cannot be read (never rely on an operation that may be broken).
 */
export function cleanupMethodFor(version: string | undefined): CleanupMethod {
  const v = parseServerVersion(version);
  return v && atLeast(v, PARTIAL_PURGE_FIXED) ? 'purge' : 'delete';
}
