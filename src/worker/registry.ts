/** The handlers a worker runs, by job name: plain handlers and typed job definitions. */
import { ConflictError, InvalidArgumentError } from '../errors.js';
import type { JobContext, RegistrableJob } from '../jobs/define.js';
import type { Registered } from './attempt.js';
import type { JobHandler } from './types.js';

/** The handler registry of one worker. */
export interface HandlerRegistry {
  /** Register a handler by name, or a job definition (whose payload its schema parses first). */
  register(nameOrDef: string | RegistrableJob, handler?: JobHandler): void;
  /** The handler of a job name. */
  get(name: string): Registered | undefined;
}

/** Call the typed handler with the decoded payload; a registry-bound decode is a promise, a zod one is not (kept synchronous). */
function runDecoded(def: RegistrableJob, decoded: unknown, ctx: JobContext): Promise<void> | void {
  if (decoded instanceof Promise) return decoded.then((payload) => def.handler(payload as never, ctx));
  return def.handler(decoded as never, ctx);
}

/** Create a registry for a worker consuming `queueNames` (a definition on another queue is refused). */
export function createHandlerRegistry(queueNames: readonly string[]): HandlerRegistry {
  const handlers = new Map<string, Registered>();

  function registrationOf(nameOrDef: string | RegistrableJob, handler: JobHandler | undefined): [string, Registered] {
    if (typeof nameOrDef === 'string') {
      if (nameOrDef.trim() === '') throw new InvalidArgumentError('job name must be a non-empty string');
      if (typeof handler !== 'function') throw new InvalidArgumentError(`handler of "${nameOrDef}" must be a function`);
      return [nameOrDef, { handler }];
    }
    if (nameOrDef && typeof nameOrDef === 'object' && typeof nameOrDef.decode === 'function') {
      const def = nameOrDef;
      if (!queueNames.includes(def.queue)) {
        throw new InvalidArgumentError(`job "${def.name}" is defined on queue "${def.queue}", which this worker does not consume (${queueNames.join(', ')})`);
      }
      return [def.name, { definition: def, handler: (job, ctx) => runDecoded(def, def.decode(job.payload), ctx) }];
    }
    throw new InvalidArgumentError('register takes (jobName, handler) or a job definition from defineJob');
  }

  return {
    register(nameOrDef, handler) {
      const [name, reg] = registrationOf(nameOrDef, handler);
      if (handlers.has(name)) throw new ConflictError(`a handler for "${name}" is already registered`);
      handlers.set(name, reg);
    },
    get: (name) => handlers.get(name),
  };
}
