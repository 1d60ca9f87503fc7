/** Header names of the wire format, shared with producers and consumers in other languages. */
export const H = Object.freeze({
  id: 'job_id',
  name: 'job_name',
  queue: 'job_queue',
  runAt: 'job_run_at',
  attempt: 'job_attempt',
  maxAttempts: 'job_max_attempts',
  tenantId: 'job_tenant_id',
  tenantIdAlias: 'tenant_id',
  correlationId: 'job_correlation_id',
  correlationIdAlias: 'correlation_id',
  idempotencyKey: 'job_idempotency_key',
  contentType: 'job_content_type',
  createdAt: 'job_created_at',
  partitionKey: 'job_partition_key',
  failureReason: 'job_failure_reason',
  failedAt: 'job_failed_at',
  originalQueue: 'job_original_queue',
  traceparent: 'traceparent',
});

/**
 * Header stamped on a job the DLQ store replayed from a dead-letter queue (when, RFC 3339). Not
 * reserved: a handler sees it among the job's headers.
 */
export const REPLAYED_AT_HEADER = 'job_replayed_at';

/**
 * Headers that the codec writes from Job fields. They are stripped from `Job.headers`
 * on decode and always overwrite a user header of the same name on encode.
 */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  H.id,
  H.name,
  H.queue,
  H.runAt,
  H.attempt,
  H.maxAttempts,
  H.tenantId,
  H.tenantIdAlias,
  H.correlationId,
  H.correlationIdAlias,
  H.idempotencyKey,
  H.contentType,
  H.createdAt,
  H.partitionKey,
  H.failureReason,
  H.failedAt,
]);
