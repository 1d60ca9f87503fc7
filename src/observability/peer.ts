/**
 * Loading the optional observability peers (`prom-client`, `@opentelemetry/api`) when an option
 * asks for them, never before: an application without metrics or tracing need not install them.
 */
import { createRequire } from 'node:module';
import { NotInitializedError } from '../errors.js';

// Synchronous on purpose: createJobbus is synchronous. Both peers ship CommonJS, and
// @opentelemetry/api keeps its global state under a process-wide symbol, so a required copy
// sees the tracer provider and propagator the application registered through `import`.
const requirePeer = createRequire(import.meta.url);

/** Load `name` (an optional peer), or throw a NotInitializedError naming it and the range. */
export function loadPeer<T>(name: string, range: string, feature: string): T {
  try {
    return requirePeer(name) as T;
  } catch (cause) {
    throw new NotInitializedError(`${feature} needs the optional peer dependency "${name}" (${range}): install it with \`npm install ${name}@${range}\``, {
      cause,
    });
  }
}
