/** The command's argument parser, suggestions, durations and instants. */
import { describe, expect, it } from 'vitest';
import { intFlag, listFlag, parseArgv, type FlagSpecs } from '../../src/cli/args.js';
import { closest, editDistance } from '../../src/cli/suggest.js';
import { parseDuration, parseInstant } from '../../src/cli/time.js';

const specs: FlagSpecs = {
  limit: { type: 'string', description: '' },
  id: { type: 'string', multiple: true, description: '' },
  yes: { type: 'boolean', short: 'y', description: '' },
  json: { type: 'boolean', description: '' },
};

describe('parseArgv', () => {
  it('reads values, inline values, booleans, shorts, repeats and positionals in any order', () => {
    const a = parseArgv(['q', '--limit', '5', '--id=a,b', '-y', '--id', 'c', 'x', '--json=false', '--', '--not-a-flag'], specs);
    expect(a.positionals).toEqual(['q', 'x', '--not-a-flag']);
    expect(a.flags).toMatchObject({ limit: '5', yes: true, json: false });
    expect(listFlag(a, 'id')).toEqual(['a', 'b', 'c']);
    expect(intFlag(a, 'limit')).toBe(5);
  });

  it('refuses an unknown flag with the closest known one, a missing value, a repeated single flag, a bad number', () => {
    expect(() => parseArgv(['--limt', '3'], specs)).toThrow(/unknown flag --limt; did you mean "--limit"\?/);
    expect(() => parseArgv(['--zzzzzz'], specs)).toThrow(/unknown flag --zzzzzz \(see --help\)/);
    expect(() => parseArgv(['--limit'], specs)).toThrow(/--limit needs a value/);
    expect(() => parseArgv(['--limit', '--json'], specs)).toThrow(/--limit needs a value/);
    expect(() => parseArgv(['--limit', '1', '--limit', '2'], specs)).toThrow(/given twice/);
    expect(() => parseArgv(['--yes=maybe'], specs)).toThrow(/takes no value/);
    expect(() => intFlag(parseArgv(['--limit', '0'], specs), 'limit')).toThrow(/--limit must be a whole number >= 1/);
    expect(parseArgv(['-5'], specs).positionals).toEqual(['-5']);
  });
});

describe('suggestions', () => {
  it('edit distance and the closest word within a typo distance', () => {
    expect(editDistance('dlqq', 'dlq')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('enqeue', ['enqueue', 'worker'])).toBe('enqueue');
    expect(closest('sched', ['scheduler', 'status'])).toBe('scheduler');
    expect(closest('zzz', ['enqueue', 'worker'])).toBeUndefined();
    // Two neighbouring letters swapped are one edit: short words get their suggestion too.
    expect(editDistance('lsit', 'list')).toBe(1);
    expect(closest('lsit', ['list', 'replay', 'purge'])).toBe('list');
    expect(closest('pasue', ['pause', 'resume'])).toBe('pause');
  });
});

describe('durations and instants', () => {
  it('parses 5s, 1h30m, 250ms, 1.5m and refuses garbage naming the flag', () => {
    expect(parseDuration('5s', '--delay')).toBe(5_000);
    expect(parseDuration('1h30m', '--delay')).toBe(5_400_000);
    expect(parseDuration('250ms', '--delay')).toBe(250);
    expect(parseDuration('1.5m', '--delay')).toBe(90_000);
    expect(() => parseDuration('5 parsecs', '--delay')).toThrow(/--delay must be a duration/);
  });

  it('reads ISO times and "that long ago"', () => {
    expect(parseInstant('2026-11-28T15:00:00Z', '--since').toISOString()).toBe('2026-11-28T15:00:00.000Z');
    expect(parseInstant('1h', '--since', 10_000_000).getTime()).toBe(10_000_000 - 3_600_000);
    expect(() => parseInstant('yesterday', '--since')).toThrow(/--since must be an ISO 8601 time/);
  });
});
