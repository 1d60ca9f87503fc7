/**
 * The package as users get it: `npm pack` the repo (which runs `prepare`: the build), then
 * install it into scratch projects from the tarball, from the folder (npm links it and runs
 * `prepare`) and from a git URL (this repo's HEAD, committed changes only: npm clones it,
 * installs its devDependencies and runs `prepare`). In each, an ESM and a CommonJS script
 * import every subpath and run one job through `createJobbus` on the memory bus; a TypeScript
 * file importing every subpath type-checks under NodeNext and Bundler resolution against the
 * tarball install. npm must print no EBADENGINE warning on this Node version (the repo's own
 * install: none but the known ones of the optional peer @platformatic/kafka's dependencies).
 *
 * Installs run one after the other (2-core machines) and share the user's npm cache.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cjsScript, esmScript, RESULT_MARK, SUBPATHS, tsconfig, typeCheckFile } from './consumer.js';
import { describeRun, installInto, run, type RunResult } from './npm.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const timings: Record<string, number> = {};
let work = '';
let tarball = '';

function expectNoEngineWarning(what: string, r: RunResult): void {
  expect(`${r.stdout}\n${r.stderr}`, describeRun(what, r)).not.toMatch(/EBADENGINE|Unsupported engine/);
}

/**
 * Dependencies of the optional peer `@platformatic/kafka` (a devDependency here, for the second
 * Kafka driver's tests) that declare Node >= 22.19 while the library itself declares >= 20.19.4
 * and the whole Kafka suite passes on Node 20 with them (src/eventbus/kafka/README.md). Their
 * warnings are the only ones the repo's own install may print; any other package's fails.
 */
const KNOWN_ENGINE_WARNINGS = new Set(['@platformatic/dynamic-buffer', '@platformatic/wasm-utils']);

/** Packages an install warned about (EBADENGINE), by name. */
function engineWarnedPackages(r: RunResult): string[] {
  return [...`${r.stdout}\n${r.stderr}`.matchAll(/EBADENGINE\s+package: '((?:@[^/']+\/)?[^@']+)@/g)].map((m) => m[1]!);
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jobbus-package-'));
  // npm pack runs `prepare`, which builds dist/ from a clean slate.
  const r = await run('npm', ['pack', '--pack-destination', work], { cwd: repoRoot, timeoutMs: 120_000 });
  timings['npm pack (build included)'] = r.ms;
  expect(r.code, describeRun('npm pack', r)).toBe(0);
  expectNoEngineWarning('npm pack', r);
  const packed = fs.readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  tarball = path.join(work, packed[0]!);
}, 150_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
  const lines = Object.entries(timings).map(([step, ms]) => `  ${step}: ${(ms / 1000).toFixed(1)} s`);
  console.log(`package test timings:\n${lines.join('\n')}`);
});

describe('the packed tarball', () => {
  it('holds dist, README and LICENSE, every exports target, and no tests, sources or source maps', async () => {
    const r = await run('tar', ['-tzf', tarball], { cwd: work });
    expect(r.code, describeRun('tar', r)).toBe(0);
    const files = new Set(r.stdout.split('\n').filter(Boolean));
    for (const f of ['package/package.json', 'package/README.md', 'package/LICENSE']) expect(files).toContain(f);
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as Record<string, string>)));
    for (const t of targets) expect(files, `exports target ${t}`).toContain(path.posix.join('package', t));
    const stray = [...files].filter((f) => /\.map$/.test(f) || /^package\/(src|test|bench|examples)\//.test(f));
    expect(stray).toEqual([]);
  });
});

describe("the repo's own install", () => {
  // npm shows no warning of the devDependencies a git-URL install puts in its clone to run
  // `prepare`, so the tree is checked here, as `npm ci` (.ci/run, contributors) sees it.
  it('has no EBADENGINE warning and a lockfile in sync with package.json', async () => {
    const r = await run('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: repoRoot });
    timings['npm ci --dry-run'] = r.ms;
    expect(r.code, describeRun('npm ci --dry-run', r)).toBe(0);
    const warned = engineWarnedPackages(r);
    expect(warned.filter((name) => !KNOWN_ENGINE_WARNINGS.has(name)), describeRun('npm ci --dry-run', r)).toEqual([]);
    // Every warning names its package (a format npm changed would hide one from the filter above).
    expect(`${r.stdout}\n${r.stderr}`.match(/Unsupported engine/g)?.length ?? 0).toBe(warned.length);
  });
});

/** How a user installs the package, and what npm must put into node_modules for it. */
const installs: readonly { readonly kind: string; readonly spec: () => string; readonly symlink: boolean }[] = [
  { kind: 'tarball', spec: () => tarball, symlink: false },
  { kind: 'folder', spec: () => repoRoot, symlink: true },
  { kind: 'git URL', spec: () => `git+file://${repoRoot}`, symlink: false },
];

/** The scratch project of each install that succeeded, by kind. */
const installedAt = new Map<string, string>();

describe.each(installs)('installed from a $kind', ({ kind, spec, symlink }) => {
  let dir = '';
  let installed = false;

  it('installs without an EBADENGINE warning, with no devDependency and no optional peer', async () => {
    dir = path.join(work, kind.replace(/\W+/g, '-'));
    const r = await installInto(dir, spec());
    timings[`install from ${kind}`] = r.ms;
    expect(r.code, describeRun(`npm install ${spec()}`, r)).toBe(0);
    expectNoEngineWarning(`npm install ${spec()}`, r);
    const link = path.join(dir, 'node_modules', 'jobbus');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(symlink);
    // dist/ is not in git: from the folder and from git it exists because `prepare` built it.
    expect(fs.existsSync(path.join(link, 'dist', 'index.js'))).toBe(true);
    if (!symlink) {
      for (const absent of ['typescript', 'vitest', 'kafkajs', '@nats-io']) expect(fs.existsSync(path.join(dir, 'node_modules', absent)), absent).toBe(false);
    }
    installed = true;
    installedAt.set(kind, dir);
  }, 180_000);

  it.each([
    ['import', 'check.mjs', esmScript, 'esm'],
    ['require', 'check.cjs', cjsScript, 'cjs'],
  ] as const)('%s: every subpath loads and a job runs through createJobbus', async (_how, file, script, system) => {
    expect(installed, 'the install above failed').toBe(true);
    fs.writeFileSync(path.join(dir, file), script());
    const r = await run(process.execPath, [file], { cwd: dir, timeoutMs: 30_000 });
    timings[`${kind}: node ${file}`] = r.ms;
    expect(r.code, describeRun(`node ${file}`, r)).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
    expect(line, describeRun(`node ${file}`, r)).toBeDefined();
    const result = JSON.parse(line!.slice(RESULT_MARK.length)) as { exportsOk: Record<string, boolean>; payload: unknown };
    expect(result.exportsOk).toEqual(Object.fromEntries(Object.keys(SUBPATHS).map((s) => [s, true])));
    expect(result.payload).toEqual({ from: system });
  });
});

// The package's `bin` as a user runs it, from the tarball install (no broker needed for --help).
describe('the jobbus command of the tarball install', () => {
  it('npx jobbus --help exits 0 and lists the commands', async () => {
    const dir = installedAt.get('tarball');
    expect(dir, 'the tarball install failed').toBeDefined();
    const r = await run('npx', ['jobbus', '--help'], { cwd: dir!, timeoutMs: 30_000 });
    timings['tarball: npx jobbus --help'] = r.ms;
    expect(r.code, describeRun('npx jobbus --help', r)).toBe(0);
    expect(r.stdout).toContain('Usage: jobbus <command>');
  });
});

/** The NATS peers and Node's types at the versions the repo tests with (its devDependencies). */
function typePackages(): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  const names = Object.keys(pkg.devDependencies).filter((n) => n.startsWith('@nats-io/') || n === '@types/node');
  return names.map((n) => `${n}@${pkg.devDependencies[n]}`);
}

// Once, on the tarball install: the three installs hold the same dist/ (built from the same
// sources), and each tsc run takes seconds. kafkajs stays uninstalled: jobbus/kafka's types
// must not need it.
describe('the types of the tarball install', () => {
  it('type-check every subpath under NodeNext and Bundler resolution, declaration files included', async () => {
    const dir = installedAt.get('tarball');
    expect(dir, 'the tarball install failed').toBeDefined();
    const deps = await run('npm', ['install', '-D', ...typePackages(), '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir! });
    timings['tarball: npm install the NATS peers and @types/node'] = deps.ms;
    expect(deps.code, describeRun('npm install (types)', deps)).toBe(0);
    expectNoEngineWarning('npm install (types)', deps);
    fs.writeFileSync(path.join(dir!, 'check.ts'), typeCheckFile());
    for (const resolution of ['NodeNext', 'Bundler'] as const) {
      const config = `tsconfig.${resolution.toLowerCase()}.json`;
      fs.writeFileSync(path.join(dir!, config), tsconfig(resolution));
      const r = await run(process.execPath, [tsc, '-p', config], { cwd: dir!, timeoutMs: 60_000 });
      timings[`tarball: tsc ${resolution}`] = r.ms;
      expect(r.code, describeRun(`tsc (${resolution})`, r)).toBe(0);
    }
  });
});
