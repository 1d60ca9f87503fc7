/**
 * The span tree of a traced jobbus on one bus: a producer span per enqueued job under the
 * caller's span, and one consumer span per attempt (a retry included), child of and linked to
 * the producer's span, with the handler's own spans nested inside.
 */
import { context, propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import { createJobbus, PermanentError, type EventBus } from '../../src/index.js';
import { waitFor } from '../../src/testing/wait.js';
import { FAST_RETRY } from './scenarios.js';

/** Install the global context manager and W3C propagator (as an application's SDK setup does); returns the undo. */
export function installOtelGlobals(): () => void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return () => {
    context.disable();
    propagation.disable();
  };
}

const byName = (spans: readonly ReadableSpan[], name: string): ReadableSpan[] => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

/** Enqueue a flaky job (fails once) and a bad one (dead) under a request span; check every span. */
export async function checkSpanTree(bus: EventBus, queue: string, system: string, arrivalMs: number): Promise<void> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('jobbus-test');
  const jobs = createJobbus({ bus, ackTimeoutMs: 5_000, tracing: { tracer } });
  try {
    const runs = new Map<string, number>();
    const worker = jobs.worker({
      queues: [queue],
      retry: FAST_RETRY,
      handlers: {
        flaky: (job) => {
          const n = (runs.get(job.id) ?? 0) + 1;
          runs.set(job.id, n);
          // A span of the handler's own: it must nest under the attempt's span.
          tracer.startSpan(`handler run ${n}`).end();
          if (n === 1) throw new Error('first attempt fails');
        },
        bad: () => {
          throw new PermanentError('never works');
        },
      },
    });
    await worker.start();
    const [flaky, bad] = await tracer.startActiveSpan('request', async (request) => {
      try {
        return [await jobs.enqueue({ name: 'flaky', queue, payload: 1 }), await jobs.enqueue({ name: 'bad', queue, payload: 2 })] as const;
      } finally {
        request.end();
      }
    });
    expect(flaky.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await waitFor(() => byName(exporter.getFinishedSpans(), `process ${queue}`).length === 3, 'three attempt spans', arrivalMs);

    const spans = exporter.getFinishedSpans();
    const request = byName(spans, 'request')[0]!;
    const sends = byName(spans, `send ${queue}`);
    expect(sends).toHaveLength(2);
    const traceId = request.spanContext().traceId;
    for (const send of sends) {
      expect(send.kind).toBe(SpanKind.PRODUCER);
      expect(parentOf(send)).toBe(request.spanContext().spanId);
      expect(send.spanContext().traceId).toBe(traceId);
      expect(send.attributes).toMatchObject({ 'messaging.system': system, 'messaging.destination.name': queue, 'messaging.operation.type': 'send' });
    }
    const sendOf = (id: string): ReadableSpan => sends.find((s) => s.attributes['messaging.message.id'] === id)!;
    expect(flaky.headers.traceparent).toContain(sendOf(flaky.id).spanContext().spanId);

    const attempts = (id: string): ReadableSpan[] =>
      byName(spans, `process ${queue}`)
        .filter((s) => s.attributes['messaging.message.id'] === id)
        .sort((a, b) => Number(a.attributes['jobbus.attempt']) - Number(b.attributes['jobbus.attempt']));
    const [first, second] = attempts(flaky.id);
    const [dead] = attempts(bad.id);
    for (const [span, job] of [[first!, flaky], [second!, flaky], [dead!, bad]] as const) {
      const producer = sendOf(job.id).spanContext();
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(traceId);
      expect(parentOf(span)).toBe(producer.spanId);
      expect(span.links.map((l) => l.context.spanId)).toEqual([producer.spanId]);
      expect(span.attributes).toMatchObject({
        'messaging.system': system,
        'messaging.destination.name': queue,
        'messaging.operation.type': 'process',
        'messaging.message.id': job.id,
        'jobbus.job.name': job.name,
      });
    }
    // The retry is a later attempt of the same job, under the same producer span.
    expect(Number(second!.attributes['jobbus.attempt'])).toBe(Number(first!.attributes['jobbus.attempt']) + 1);
    expect(first!.status.code).toBe(SpanStatusCode.ERROR);
    expect(first!.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'first attempt fails']]);
    expect(second!.status.code).toBe(SpanStatusCode.UNSET);
    expect(dead!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'never works' });
    // The handler's spans nest under their attempt's span.
    expect(parentOf(byName(spans, 'handler run 1')[0]!)).toBe(first!.spanContext().spanId);
    expect(parentOf(byName(spans, 'handler run 2')[0]!)).toBe(second!.spanContext().spanId);
  } finally {
    await jobs.close();
    await provider.shutdown();
  }
}

/** Without a tracing option nothing is injected into the headers, even under a recording span. */
export async function checkOffByDefault(bus: EventBus, queue: string): Promise<void> {
  const provider = new BasicTracerProvider();
  const jobs = createJobbus({ bus });
  try {
    const tracer = provider.getTracer('jobbus-test');
    const job = await tracer.startActiveSpan('request', async (s) => {
      try {
        return await jobs.enqueue({ name: 'x', queue, payload: 1 });
      } finally {
        s.end();
      }
    });
    expect(job.headers).toEqual({});
  } finally {
    await jobs.close();
    await provider.shutdown();
  }
}
