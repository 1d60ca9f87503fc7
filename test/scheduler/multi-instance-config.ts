/** What multi-instance.int.test.ts passes to each multi-instance-child.ts process. */

/** The child's settings, as JSON in {@link CHILD_ENV}. */
export interface ChildConfig {
  readonly pgUrl: string;
  readonly table: string;
  readonly natsUrl: string;
  readonly subjectPrefix: string;
  readonly streamPrefix: string;
  readonly task: string;
  readonly queue: string;
  /** How long a dispatch holds its lock before it enqueues: the window the parent kills in, ms. */
  readonly stallMs: number;
}

/** Environment variable carrying the {@link ChildConfig}. */
export const CHILD_ENV = 'JOBBUS_SCHED_CHILD';
