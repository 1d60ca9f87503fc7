/**
 * Scenario sizes: `full` is what `npm run chaos` runs (the figures), `short` the version
 * in `npm test`, small enough for CI on two cores yet still able to fail.
 */
export type Size = 'short' | 'full';

/** Pick the figure for `size`. */
export const bySize = <T>(size: Size, short: T, full: T): T => (size === 'full' ? full : short);

/** Handler time of chaos job `i`: 5–50 ms, spread evenly and deterministically. */
export const handlerMsOf = (i: number): number => 5 + ((i * 37) % 46);
