/**
 * The durable record of which consumer groups read which queue stream, and the ack floor each
 * last had: one key per (stream, group) in a JetStream KV bucket `<streamPrefix>_groups`.
 *
 * Why: the janitor drops settled messages below the lowest ack floor of the groups. Reading
 * the floors only from the durable consumers that exist at that moment forgets a group whose
 * durable is missing (deleted by an operator, lost with memory storage, not created yet after
 * a registration) and purges its unread jobs (finding L2). With the registry, a registered
 * group holds the floor at its last recorded value until {@link GroupRegistry.remove} (the bus's
 * `removeGroup`) deletes the registration; its durable, if missing, is re-created right after
 * that floor.
 *
 * Key `<stream>.<durable>` (both are `[A-Za-z0-9_-]`), value `{"topic","group","floor"}`.
 * A floor is only ever raised by a janitor that read it from the live durable, with a write
 * conditional on the revision it read: a concurrent removal is never undone, and of two
 * janitors writing at once one loses and retries on its next run.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';

/** One registered group of a stream. */
export interface GroupRecord {
  readonly topic: string;
  readonly group: string;
  /** Highest stream sequence at or below which the group had acked everything, as last read. */
  readonly floor: number;
  /** KV revision the record was read at (updates are conditional on it). */
  readonly revision: number;
}

/** See the module comment. */
export interface GroupRegistry {
  /**
   * Register a group (idempotent). Returns the record as it was before this call, or undefined
   * when the group is new.
   */
  register(stream: string, durable: string, topic: string, group: string): Promise<GroupRecord | undefined>;
  /** The registered groups of a stream, by durable name. */
  groupsOf(stream: string): Promise<Map<string, GroupRecord>>;
  /** Record a group's floor read from its durable (only raises it). */
  recordFloor(stream: string, durable: string, record: GroupRecord, floor: number): Promise<void>;
  /** Forget a group: it no longer holds the floor. */
  remove(stream: string, durable: string): Promise<void>;
}

/** Options of {@link createGroupRegistry}. */
export interface GroupRegistryOptions {
  readonly nc: NatsConnection;
  /** KV bucket name. */
  readonly bucket: string;
  readonly storage: 'file' | 'memory';
  readonly replicas: number;
  readonly timeoutMs: number;
}

const te = new TextEncoder();

function keyOf(stream: string, durable: string): string {
  return `${stream}.${durable}`;
}

function parse(value: Uint8Array, revision: number): GroupRecord | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(value)) as Partial<GroupRecord>;
    if (typeof v.topic !== 'string' || typeof v.group !== 'string' || typeof v.floor !== 'number') return undefined;
    return { topic: v.topic, group: v.group, floor: v.floor, revision };
  } catch {
    return undefined;
  }
}

/** A registry on a KV bucket, created on first use. */
export function createGroupRegistry(o: GroupRegistryOptions): GroupRegistry {
  let kvp: Promise<KV> | undefined;

  function kv(): Promise<KV> {
    kvp ??= (async () => {
      const [{ Kvm }, { StorageType }] = await Promise.all([import('@nats-io/kv'), import('@nats-io/jetstream')]);
      const kvm = new Kvm(o.nc);
      return kvm.create(o.bucket, {
        history: 1,
        replicas: o.replicas,
        storage: o.storage === 'memory' ? StorageType.Memory : StorageType.File,
        description: 'jobbus consumer groups of queue streams and their last ack floors',
        timeout: o.timeoutMs,
      });
    })();
    kvp.catch(() => (kvp = undefined));
    return kvp;
  }

  async function read(bucket: KV, key: string): Promise<GroupRecord | undefined> {
    const e = await bucket.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    return parse(e.value, e.revision);
  }

  return {
    async register(stream, durable, topic, group) {
      const bucket = await kv();
      const key = keyOf(stream, durable);
      const before = await read(bucket, key);
      if (before) return before;
      try {
        await bucket.create(key, te.encode(JSON.stringify({ topic, group, floor: 0 })));
      } catch (err) {
        // Registered meanwhile by another process: keep its record.
        const now = await read(bucket, key);
        if (!now) throw err;
        return now;
      }
      return undefined;
    },

    async groupsOf(stream) {
      const bucket = await kv();
      const out = new Map<string, GroupRecord>();
      const keys: string[] = [];
      for await (const k of await bucket.keys(`${stream}.*`)) keys.push(k);
      await Promise.all(
        keys.map(async (k) => {
          const r = await read(bucket, k);
          if (r) out.set(k.slice(stream.length + 1), r);
        }),
      );
      return out;
    },

    async recordFloor(stream, durable, record, floor) {
      if (floor <= record.floor) return;
      const bucket = await kv();
      const { topic, group } = record;
      await bucket.update(keyOf(stream, durable), te.encode(JSON.stringify({ topic, group, floor })), record.revision);
    },

    async remove(stream, durable) {
      const bucket = await kv();
      await bucket.purge(keyOf(stream, durable));
    },
  };
}
