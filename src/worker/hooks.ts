/** Running the worker's observer hooks: in order, never affecting processing. */
import type { Logger } from 'pino';
import type { WorkerHooks } from './types.js';

/** Calls every registered hook of a name. */
export type HookEmitter = <K extends keyof WorkerHooks>(name: K, ...args: Parameters<NonNullable<WorkerHooks[K]>>) => Promise<void> | undefined;

/**
 * An emitter over `hooks` (a list the caller may append to). Synchronous hooks cost no
 * promise: a promise is returned only once a hook returns one (the rest then run after it,
 * still in order). A hook that throws is logged and ignored.
 */
export function createHookEmitter(hooks: readonly WorkerHooks[], logger: Logger): HookEmitter {
  const call = (h: WorkerHooks, name: keyof WorkerHooks, args: readonly unknown[]): unknown => {
    const fn = h[name] as ((...a: unknown[]) => unknown) | undefined;
    return fn?.apply(h, args as unknown[]);
  };
  const ignored = (err: unknown, name: keyof WorkerHooks): void => logger.warn({ err, hook: name }, 'a worker hook threw; ignored');

  async function finish(name: keyof WorkerHooks, args: readonly unknown[], from: number, pending: Promise<unknown>): Promise<void> {
    try {
      await pending;
    } catch (err) {
      ignored(err, name);
    }
    for (let i = from + 1; i < hooks.length; i++) {
      try {
        await call(hooks[i]!, name, args);
      } catch (err) {
        ignored(err, name);
      }
    }
  }

  return (name, ...args) => {
    for (let i = 0; i < hooks.length; i++) {
      try {
        const r = call(hooks[i]!, name, args);
        if (r && typeof (r as Promise<unknown>).then === 'function') return finish(name, args, i, r as Promise<unknown>);
      } catch (err) {
        ignored(err, name);
      }
    }
    return undefined;
  };
}
