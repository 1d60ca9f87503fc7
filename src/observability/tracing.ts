/**
 * OpenTelemetry spans through `@opentelemetry/api` (an optional peer, loaded when tracing is
 * asked for). A `send <queue>` producer span per enqueued job, whose context travels in the
 * job's headers (`traceparent`, through the registered propagator); a `process <queue>`
 * consumer span per attempt, child of the producer's span and linked to it, with the messaging
 * semantic-convention attributes. Spans of the handler nest under the attempt's span.
 */
import type * as Otel from '@opentelemetry/api';
import type { EventBus } from '../eventbus/types.js';
import type { Job } from '../jobs/types.js';
import type { Middleware } from '../worker/types.js';
import { loadPeer } from './peer.js';
import type { TracingOptions } from './types.js';

/** What one jobbus instance traces. */
export interface JobbusTracing {
  /** Start a producer span per job and inject its context into the job's headers; call the result once published (with the error if not). */
  send(jobs: readonly Job[]): (error?: unknown) => void;
  /** The outermost middleware of every worker: one consumer span per attempt. */
  readonly middleware: Middleware;
}

/** `messaging.system` of a bus: its kind, told by what only that kind has. */
export function busKind(bus: EventBus | undefined): string {
  if (bus === undefined) return 'memory';
  if ('relayCounters' in bus) return 'kafka';
  if ('cleanupMethod' in bus) return 'nats';
  if ('pendingCount' in bus && 'delayedCount' in bus) return 'memory';
  return 'jobbus';
}

/** Create the tracing of a jobbus instance on a bus of kind `system` (unless the options name one). */
export function createJobbusTracing(options: TracingOptions, system: string): JobbusTracing {
  const api = loadPeer<typeof Otel>('@opentelemetry/api', '^1.9', 'jobbus tracing');
  const tracer = (options.tracer as Otel.Tracer | undefined) ?? api.trace.getTracer('jobbus');
  const messagingSystem = options.system ?? system;

  function attributes(job: Job, operation: 'send' | 'process'): Otel.Attributes {
    return {
      'messaging.system': messagingSystem,
      'messaging.destination.name': job.queue,
      'messaging.operation.type': operation,
      'messaging.operation.name': operation,
      'messaging.message.id': job.id,
      'jobbus.job.name': job.name,
      'jobbus.attempt': job.attempt,
    };
  }

  function fail(span: Otel.Span, error: unknown): void {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }

  return {
    send(jobs) {
      const active = api.context.active();
      const spans = jobs.map((job) => {
        const span = tracer.startSpan(`send ${job.queue}`, { kind: api.SpanKind.PRODUCER, attributes: attributes(job, 'send') }, active);
        api.propagation.inject(api.trace.setSpan(active, span), job.headers);
        return span;
      });
      return (error) => {
        for (const span of spans) {
          if (error !== undefined) fail(span, error);
          span.end();
        }
      };
    },

    async middleware(ctx, next) {
      const job = ctx.job;
      const producer = api.propagation.extract(api.ROOT_CONTEXT, job.headers);
      const producerSpan = api.trace.getSpanContext(producer);
      const span = tracer.startSpan(
        `process ${job.queue}`,
        { kind: api.SpanKind.CONSUMER, attributes: attributes(job, 'process'), ...(producerSpan && { links: [{ context: producerSpan }] }) },
        producer,
      );
      try {
        await api.context.with(api.trace.setSpan(producer, span), next);
        // A handler that resolves after its timeout or lost lease still failed the attempt.
        if (ctx.signal.aborted) fail(span, ctx.signal.reason);
      } catch (err) {
        fail(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  };
}
