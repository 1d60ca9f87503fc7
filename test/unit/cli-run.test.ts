/**
 * The `jobbus` command run in process (runCli with a recording terminal): help on every
 * command, suggestions, usage errors and their exit code, and what needs no broker (memory bus,
 * scheduler list). The spawned, broker-backed cases are in test/cli.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../src/cli/main.js';
import { EXIT } from '../../src/cli/exit.js';
import { fakeIo } from '../cli/fake-io.js';

const memory = { JOBBUS_BUS: 'memory' };

async function run(argv: string[], options: Parameters<typeof fakeIo>[0] = {}) {
  const io = fakeIo(options);
  const code = await runCli(argv, io);
  return { code, out: io.text(), err: io.errText() };
}

describe('help', () => {
  it('--help of the program lists every command and the exit codes; on stdout, exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await run(argv);
      expect(r.code).toBe(EXIT.ok);
      for (const c of COMMANDS) expect(r.out).toContain(`  ${c.name} `);
      expect(r.out).toMatch(/Exit codes:\n {2}0 {2}done\n {2}1 .*\n {2}2 .*usage.*\n {2}3 .*unreachable.*\n {2}4 {2}not found/);
    }
  });

  it('--help on every command and subcommand shows its usage and flags', async () => {
    const paths = COMMANDS.flatMap((c) => [[c.name], ...(c.subcommands ?? []).map((s) => [c.name, s.name])]);
    for (const path of paths) {
      const r = await run([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(EXIT.ok);
      expect(r.out, path.join(' ')).toMatch(new RegExp(`^Usage: jobbus ${path.join(' ')}`));
      expect(r.err).toBe('');
    }
    expect((await run(['help', 'dlq', 'replay'])).out).toMatch(/--rate N\/s/);
  });

  it('no command, or a group without a subcommand: the help on stderr and exit 2', async () => {
    const none = await run([]);
    expect([none.code, none.out]).toEqual([EXIT.usage, '']);
    expect(none.err).toMatch(/missing command/);
    const group = await run(['dlq']);
    expect(group.code).toBe(EXIT.usage);
    expect(group.err).toMatch(/Subcommands:[\s\S]*missing subcommand of "dlq"/);
  });
});

describe('usage errors (exit 2)', () => {
  it('suggests the closest command, subcommand and flag', async () => {
    expect(await run(['enqeue', 'q', 'n'])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/unknown command "enqeue"; did you mean "enqueue"\?/) });
    expect(await run(['dlq', 'lst', 'q'])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/unknown subcommand of "dlq" "lst"; did you mean "list"\?/) });
    expect(await run(['dlq', 'list', 'q', '--limt', '5'])).toMatchObject({ code: EXIT.usage, err: expect.stringMatching(/unknown flag --limt; did you mean "--limit"\?/) });
    expect(await run(['queues', 'q', '--kafka-broker', 'x:1'])).toMatchObject({ err: expect.stringMatching(/did you mean "--kafka-brokers"\?/) });
  });

  it('refuses missing and extra arguments, bad values, and a purge or replay --all without a terminal and --yes', async () => {
    const cases: [string[], RegExp][] = [
      [['enqueue', 'q'], /missing <name>; usage: jobbus enqueue <queue> <name>/],
      [['pause', 'a', 'b'], /unexpected argument "b"/],
      [['enqueue', 'q', 'n', '--payload', '{nope'], /--payload must be JSON/],
      [['enqueue', 'q', 'n', '--delay', 'soon'], /--delay must be a duration/],
      [['enqueue', 'q', 'n', '--delay', '1s', '--at', '2026-01-01T00:00:00Z'], /--delay or --at, not both/],
      [['dlq', 'purge', 'q'], /choose what to purge: --id ENTRY, --all, or filters/],
      [['dlq', 'purge', 'q', '--all'], /refusing to purge without confirmation: stdin is not a terminal; pass --yes/],
      [['dlq', 'replay', 'q', '--all'], /refusing to replay without confirmation/],
      [['dlq', 'replay', 'q', '--id', 'x', '--rate', 'fast'], /--rate must be a positive number/],
      [['dlq', 'list', 'q', '--since', 'yesterday'], /--since must be an ISO 8601 time/],
      [['status', 'some-id'], /no job-status store configured/],
      [['status'], /give a job id or --snapshot/],
      [['worker'], /--handlers: name the module/],
      [['scheduler', 'list'], /--tasks: name the module/],
      [['queues', 'q'], /no bus chosen/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv, { env: argv[0] === 'queues' ? {} : memory });
      expect(r.code, argv.join(' ')).toBe(EXIT.usage);
      expect(r.err, argv.join(' ')).toMatch(message);
      expect(r.out, argv.join(' ')).toBe('');
    }
  });

  it('a declined confirmation purges nothing (exit 1)', async () => {
    const r = await run(['dlq', 'purge', 'q', '--all'], { env: memory, tty: true, answers: ['n'] });
    expect(r.code).toBe(EXIT.failed);
    expect(r.err).toMatch(/Purge every entry of the DLQ of "q"\? This cannot be undone\. \[y\/N\][\s\S]*nothing purged/);
  });
});

describe('on the memory bus (one process)', () => {
  it('enqueue prints the job, or one JSON document with --json', async () => {
    const text = await run(['enqueue', 'emails', 'welcome', '--payload', '{"to":"ada"}', '--delay', '1h'], { env: memory });
    expect(text.code).toBe(EXIT.ok);
    expect(text.out).toMatch(/^enqueued [0-9a-f-]{36} \(welcome on emails, runs at \d{4}-/);
    const json = await run(['enqueue', 'emails', 'welcome', '--key', 'k1', '--max-attempts', '3', '--json', '--id', 'job-1'], { env: memory });
    expect(JSON.parse(json.out)).toMatchObject({ id: 'job-1', name: 'welcome', queue: 'emails', maxAttempts: 3, partitionKey: 'k1' });
  });

  it('queues shows a table, and pause/resume answer', async () => {
    const r = await run(['queues', 'a', 'b'], { env: memory });
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.split('\n')[0]).toMatch(/^QUEUE +GROUP +WAITING +IN FLIGHT +DELAYED +OLDEST WAITING +DLQ +DLQ SIZE +PAUSED$/);
    expect(r.out).toMatch(/\na +jobbus +0 +0 +0 +- +a\.dlq +0/);
    const p = await run(['pause', 'a', '--json'], { env: memory });
    expect([p.code, JSON.parse(p.out)]).toEqual([EXIT.ok, { queue: 'a', group: 'jobbus', paused: true }]);
  });

  it('dlq list of an empty DLQ says so on stderr; a replay of unknown ids exits 4', async () => {
    const list = await run(['dlq', 'list', 'q'], { env: memory });
    expect([list.code, list.out]).toEqual([EXIT.ok, '']);
    expect(list.err).toMatch(/no entries in the DLQ of "q"/);
    const replay = await run(['dlq', 'replay', 'q', '--id', 'nope'], { env: memory });
    expect(replay.code).toBe(EXIT.notFound);
    expect(replay.err).toMatch(/none of the given entry ids is in the DLQ of "q": nope/);
  });
});

describe('scheduler (no broker needed to list)', () => {
  const tasks = 'test/cli/fixtures/tasks.ts';
  it('lists each task with its schedule and next runs', async () => {
    const r = await run(['scheduler', 'list', '--tasks', tasks, '--json', '--next', '2']);
    expect(r.code).toBe(EXIT.ok);
    const { tasks: listed } = JSON.parse(r.out) as { tasks: { name: string; timezone: string; nextRuns: string[] }[] };
    expect(listed.map((t) => t.name)).toEqual(['nightly-report', 'heartbeat']);
    expect(listed[0]!.timezone).toBe('Europe/Rome');
    expect(listed[1]!.nextRuns).toHaveLength(2);
    expect(new Date(listed[1]!.nextRuns[1]!).getTime() - new Date(listed[1]!.nextRuns[0]!).getTime()).toBe(90_000);
    const table = await run(['scheduler', 'list', '--tasks', tasks]);
    expect(table.out).toMatch(/^TASK +SCHEDULE +TIMEZONE +QUEUE +JOB +MISFIRE +NEXT RUNS +LAST FIRED\nnightly-report +0 2 \* \* \* +Europe\/Rome/);
  });

  it('triggers a task on the memory bus; an unknown task exits 4 with a suggestion; a bad module exits 2', async () => {
    const r = await run(['scheduler', 'trigger', 'heartbeat', '--tasks', tasks, '--json'], { env: memory });
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.out)).toMatchObject({ task: 'heartbeat', fired: true, jobId: expect.stringMatching(/^sched-heartbeat-manual-/) });
    const unknown = await run(['scheduler', 'trigger', 'heartbeet', '--tasks', tasks], { env: memory });
    expect(unknown.code).toBe(EXIT.notFound);
    expect(unknown.err).toMatch(/no task "heartbeet" .*did you mean "heartbeat"\?/);
    const bad = await run(['scheduler', 'list', '--tasks', 'test/cli/fixtures/bad-tasks.ts']);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toMatch(/--tasks: task 0 \(broken\) in .*schedule/);
    const missing = await run(['scheduler', 'list', '--tasks', './nope.js']);
    expect(missing.err).toMatch(/--tasks: no such file: .*nope\.js/);
  });
});

describe('the library does not load the command', () => {
  it('nothing reachable from src/index.ts (or any other package entry) imports src/cli', async () => {
    const { readFileSync } = await import('node:fs');
    const { dirname, resolve } = await import('node:path');
    const src = resolve(new URL('../../src', import.meta.url).pathname);
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      const specs = [...text.matchAll(/(?:from\s+|import\(\s*)['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
      for (const spec of specs) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
    };
    for (const entry of ['index.ts', 'advanced.ts', 'eventbus/memory/index.ts', 'eventbus/kafka/index.ts', 'eventbus/nats/index.ts', 'scheduler/index.ts', 'testing/index.ts']) {
      visit(resolve(src, entry));
    }
    expect(seen.size).toBeGreaterThan(50);
    expect([...seen].filter((f) => f.includes('/src/cli/'))).toEqual([]);
  });
});
