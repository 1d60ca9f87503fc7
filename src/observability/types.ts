/**
 * The public options of jobbus's metrics and tracing. They name no type of the optional peers,
 * so an application without `prom-client` or `@opentelemetry/api` still type-checks.
 */

/** What jobbus needs of a `prom-client` `Registry` (any prom-client 15 registry is one). */
export interface MetricsRegistry {
  getSingleMetric(name: string): unknown;
  metrics(): Promise<string>;
}

/** `createJobbus({ metrics })`: Prometheus metrics through `prom-client` (an optional peer). */
export interface MetricsOptions {
  /** The registry the metrics are registered in (e.g. `new Registry()` or prom-client's `register`). */
  readonly registry: MetricsRegistry;
  /** Buckets of `jobbus_job_attempt_duration_seconds`, seconds; default 5 ms to 5 min. Only the first instance of a registry sets them. */
  readonly buckets?: readonly number[];
  /**
   * Queues whose stats (`jobbus_queue_*`, `jobbus_dlq_size`) this instance exports besides those
   * of its workers, e.g. in a process that only enqueues. Read from the bus on each scrape.
   */
  readonly queues?: readonly string[];
}

/** What jobbus needs of an OpenTelemetry `Tracer` (any `@opentelemetry/api` 1.x tracer is one). */
export interface TracerLike {
  startSpan(name: string, ...rest: never[]): unknown;
}

/** `createJobbus({ tracing })`: spans through `@opentelemetry/api` (an optional peer). */
export interface TracingOptions {
  /** The tracer; default `trace.getTracer('jobbus')` of the global tracer provider. */
  readonly tracer?: TracerLike;
  /**
   * `messaging.system` of the spans; default the bus kind: `kafka`, `nats`, `memory`, or
   * `jobbus` for another bus.
   */
  readonly system?: string;
}
