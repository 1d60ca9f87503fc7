import { describeError } from './errors.js';

/** The result of one health check. */
export interface HealthResult {
  /** Checker name, e.g. `jobs-runtime`. */
  readonly name: string;
  /** `up` when the check passed within its timeout. */
  readonly status: 'up' | 'down';
  /** How long the check took, ms. */
  readonly durationMs: number;
  /** Why it is down. */
  readonly error?: string;
}

/** A named health check with a timeout, for readiness/liveness endpoints. */
export interface HealthChecker {
  /** The checker's name. */
  readonly name: string;
  /** Run the check; never throws. */
  check(): Promise<HealthResult>;
}

/** Anything with a `healthCheck()` that throws when unhealthy (Runtime, Backend, EventBus). */
export interface HealthCheckable {
  healthCheck(): Promise<void>;
}

/** Options of the health checker factories. */
export interface HealthCheckerOptions {
  /** Checker name. */
  readonly name?: string;
  /** A check slower than this is `down`, ms. Default 5 000. */
  readonly timeoutMs?: number;
}

/** Wrap a component's `healthCheck()` as a {@link HealthChecker}. */
export function createHealthChecker(target: HealthCheckable, options: HealthCheckerOptions & { name: string }): HealthChecker {
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    name: options.name,
    async check() {
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          target.healthCheck(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`health check timed out after ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { name: options.name, status: 'up', durationMs: Date.now() - started };
      } catch (err) {
        return { name: options.name, status: 'down', durationMs: Date.now() - started, error: describeError(err) };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Health of the jobs runtime (default name `jobs-runtime`). */
export function runtimeHealthChecker(runtime: HealthCheckable, options: HealthCheckerOptions = {}): HealthChecker {
  return createHealthChecker(runtime, { ...options, name: options.name ?? 'jobs-runtime' });
}

/** Health of the backend (default name `jobs-backend`). */
export function backendHealthChecker(backend: HealthCheckable, options: HealthCheckerOptions = {}): HealthChecker {
  return createHealthChecker(backend, { ...options, name: options.name ?? 'jobs-backend' });
}
