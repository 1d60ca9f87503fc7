/**
 * Errors of the `@platformatic/kafka` driver in the shape the adapter reads. The adapter
 * classifies client errors by the Kafka protocol error name in a `type` property anywhere in the
 * cause chain (publish-errors.ts, kafkajs' convention); `@platformatic/kafka` names it `apiId` on
 * its `ProtocolError`s, nested in a `ResponseError`/`MultipleErrors` (`errors`). {@link normalize}
 * copies `apiId` to `type` on every error of the tree, and marks a SASL authentication failure
 * `SASL_AUTHENTICATION_FAILED`, so the same classification serves both drivers.
 */

/** One error of a `@platformatic/kafka` error tree (the fields read here). */
interface PltErrorLike {
  type?: unknown;
  apiId?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Walk `err` (cause and `errors`, bounded) and call `visit` on every object. */
function walk(err: unknown, visit: (e: PltErrorLike) => void): void {
  const seen = new Set<unknown>();
  const go = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || seen.has(e) || depth > 8) return;
    seen.add(e);
    const x = e as PltErrorLike;
    visit(x);
    go(x.cause, depth + 1);
    if (Array.isArray(x.errors)) for (const inner of x.errors) go(inner, depth + 1);
  };
  go(err, 0);
}

/**
 * Give every protocol error in `err` a `type` (its Kafka error name) and an authentication
 * failure the type `SASL_AUTHENTICATION_FAILED`; returns `err` itself.
 */
export function normalize<T>(err: T): T {
  walk(err, (x) => {
    // "failed N times" aggregates keep their attempts in `errors` only: the first attempt's error
    // (later ones can be follow-ups such as a closed pool) becomes the `cause`, which is what
    // the adapter's classification (e.g. refused credentials, an untrusted certificate) reads.
    if (x.cause === undefined && Array.isArray(x.errors) && x.errors.length > 0) {
      try {
        Object.defineProperty(x, 'cause', { value: x.errors[0], enumerable: false, configurable: true, writable: true });
      } catch {
        // a frozen error keeps its shape
      }
    }
    if (typeof x.type === 'string') return;
    let type: string | undefined;
    if (typeof x.apiId === 'string') type = x.apiId;
    else if (x.code === 'PLT_KFK_AUTHENTICATION') type = 'SASL_AUTHENTICATION_FAILED';
    if (type !== undefined) {
      try {
        Object.defineProperty(x, 'type', { value: type, enumerable: false, configurable: true });
      } catch {
        // a frozen error keeps its shape
      }
    }
  });
  return err;
}

/** The Kafka protocol error names (`apiId`) anywhere in `err`. */
export function protocolErrorIds(err: unknown): string[] {
  const out: string[] = [];
  walk(err, (x) => {
    if (typeof x.apiId === 'string') out.push(x.apiId);
  });
  return out;
}

/** True when `err` carries the protocol error `id`. */
export function hasProtocolError(err: unknown, id: string): boolean {
  return protocolErrorIds(err).includes(id);
}

/** Await `p`, rejecting with its error {@link normalize}d. */
export async function normalized<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw normalize(err);
  }
}

/**
 * True when `err` says this client may not do what it asked (an ACL refused it, or its
 * credentials were refused): waiting does not make it pass, unlike a broker that is away.
 */
export function isAccessDenied(err: unknown): boolean {
  let denied = false;
  walk(err, (x) => {
    if (typeof x.apiId === 'string' && (x.apiId.endsWith('_AUTHORIZATION_FAILED') || x.apiId === 'SASL_AUTHENTICATION_FAILED')) denied = true;
    else if (x.code === 'PLT_KFK_AUTHENTICATION') denied = true;
  });
  return denied;
}
