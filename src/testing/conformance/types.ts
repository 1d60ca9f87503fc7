/** The public types of the jobs conformance suite: what a bus under test and a test framework provide. */
import type { EventBus } from '../../eventbus/types.js';

/** A value under test, as the test framework's `expect` returns it (the matchers the suite uses). */
export interface ConformanceMatchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toMatch(expected: RegExp | string): void;
  toMatchObject(expected: object): void;
  toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): void;
  toBeGreaterThan(n: number): void;
  toBeGreaterThanOrEqual(n: number): void;
  toBeLessThan(n: number): void;
  toHaveLength(n: number): void;
  toBeUndefined(): void;
  readonly rejects: {
    toBeInstanceOf(expected: abstract new (...args: never[]) => unknown): Promise<void>;
    toMatchObject(expected: object): Promise<void>;
  };
}

/** The test framework functions the suite needs (vitest's and jest's fit). */
export interface ConformanceTestApi {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>, timeoutMs?: number): void;
  afterEach(body: () => Promise<void>): void;
  expect(value: unknown): ConformanceMatchers;
}

/** What a bus under test provides. */
export interface ConformanceTarget {
  /** Shown in test names. */
  readonly name: string;
  /** A new bus; the suite closes it. */
  createBus(): Promise<EventBus>;
  /** A queue name unique to one test. */
  queueName(prefix: string): string;
  /** How long to wait for things that should happen "soon", ms. Default 10 000. */
  readonly patienceMs?: number;
}
