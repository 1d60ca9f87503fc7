/**
 * Mapping of jobbus names (topics = queue names, consumer groups) to NATS names.
 *
 * Subject of a topic: `<prefix>.q.<topic>`; a topic's dots become subject token separators,
 * so `jobs.email` is `jobbus.q.jobs.email`. Each topic's stream binds exactly that one
 * subject (no wildcard), so `jobs.email.dlq` (`jobbus.q.jobs.email.dlq`) never overlaps
 * the stream of `jobs.email`: JetStream refuses overlapping stream subjects, and a
 * `jobs.email.>` wildcard would swallow the DLQ. Delayed messages of a topic wait on
 * `<prefix>.d.<topic>.<tier>` in the topic's delay stream (see provision.ts, delay-tiers.ts):
 * one token more than any subject of the topic `<topic>` itself, so no overlap either.
 *
 * Stream and durable consumer names cannot hold `.`, `*`, `>`, whitespace or path
 * separators, so they are escaped injectively: `[A-Za-z0-9-]` stay, every other character
 * becomes `_` plus two hex digits (`_` itself too), e.g. `jobs.email` -> `JOBBUS_jobs_2Eemail`.
 */
import { ValidationError } from '../../errors.js';

/** Longest stream or consumer name we create; NATS stores them as directory names. */
const MAX_NAME_LENGTH = 200;

/** One subject token: printable ASCII except the wildcards and the separator. */
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Check that `name` can be used as (part of) a subject: non-empty dot-separated tokens of
 * printable ASCII without `*` or `>`. Throws a {@link ValidationError} naming `what`.
 */
export function checkSubjectPart(name: string, what: string, field: string): void {
  if (typeof name !== 'string' || name === '') {
    throw new ValidationError(field, `${what} must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  for (const token of name.split('.')) {
    if (token === '') {
      throw new ValidationError(field, `${what} ${JSON.stringify(name)} cannot map to a NATS subject: empty token (leading, trailing or double dot)`);
    }
    if (!TOKEN.test(token) || token.includes('*') || token.includes('>')) {
      throw new ValidationError(
        field,
        `${what} ${JSON.stringify(name)} cannot map to a NATS subject: only printable ASCII without spaces, '*' or '>' is allowed`,
      );
    }
  }
}

/** Escape `name` for a stream or consumer name (see the module comment). */
export function escapeName(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const keep = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45;
    out += keep ? name[i] : `_${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** How topics and groups map to subjects, streams and durable consumers. */
export interface NameMapper {
  /** Subject a topic's messages are published on. Throws a {@link ValidationError} for an unmappable topic. */
  subjectOf(topic: string): string;
  /** Subject of one tier of a topic's delay stream (messages published with a future `deliverAt`). */
  delaySubjectOf(topic: string, tier: string): string;
  /** Stream holding a topic. */
  streamOf(topic: string): string;
  /** Durable consumer of a group. */
  durableOf(group: string): string;
}

/** Build the name mapping for a subject prefix and a stream-name prefix. */
export function createNameMapper(subjectPrefix: string, streamPrefix: string): NameMapper {
  checkSubjectPart(subjectPrefix, 'subject prefix', 'subjectPrefix');
  if (!/^[A-Za-z0-9_-]+$/.test(streamPrefix)) {
    throw new ValidationError('streamPrefix', `stream prefix must match [A-Za-z0-9_-]+, got ${JSON.stringify(streamPrefix)}`);
  }
  return {
    subjectOf(topic) {
      checkSubjectPart(topic, 'queue', 'queue');
      return `${subjectPrefix}.q.${topic}`;
    },
    delaySubjectOf(topic, tier) {
      checkSubjectPart(topic, 'queue', 'queue');
      return `${subjectPrefix}.d.${topic}.${tier}`;
    },
    streamOf(topic) {
      checkSubjectPart(topic, 'queue', 'queue');
      const name = `${streamPrefix}_${escapeName(topic)}`;
      if (name.length > MAX_NAME_LENGTH) {
        throw new ValidationError('queue', `queue ${JSON.stringify(topic)} is too long for a NATS stream name (${name.length} > ${MAX_NAME_LENGTH} after escaping)`);
      }
      return name;
    },
    durableOf(group) {
      if (typeof group !== 'string' || group.trim() === '') {
        throw new ValidationError('group', `consumer group must be a non-empty string, got ${JSON.stringify(group)}`);
      }
      const name = escapeName(group);
      if (name.length > MAX_NAME_LENGTH) {
        throw new ValidationError('group', `group ${JSON.stringify(group)} is too long for a NATS consumer name`);
      }
      return name;
    },
  };
}
