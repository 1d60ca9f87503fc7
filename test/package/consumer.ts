/**
 * The files of a scratch project that uses the installed package the way an application does:
 * an ESM script (`import`), a CommonJS script (`require`) and a TypeScript file type-checked
 * under `moduleResolution` NodeNext and Bundler. Kept as text here so that the repo's own
 * typecheck and lint never try to resolve `jobbus` from inside the repo.
 */

/** Every subpath the package exports, with one value each must export (`null`: types only). */
export const SUBPATHS: Readonly<Record<string, string | null>> = {
  jobbus: 'createJobbus',
  'jobbus/advanced': 'createEventBusBridge',
  'jobbus/memory': 'createMemoryEventBus',
  'jobbus/kafka': 'createKafkaEventBus',
  'jobbus/nats': 'createNatsEventBus',
  'jobbus/testing': 'createTestJobbus',
  'jobbus/scheduler': 'createScheduler',
};

/** The line a script prints last when it ran; the test parses what follows. */
export const RESULT_MARK = 'PACKAGE-RESULT ';

/**
 * The body both scripts share, given `mods` (subpath → module namespace). It checks each
 * subpath's export, then runs one job end to end through the face on its default memory bus.
 * The payload names the module system so a mix-up between the two scripts shows.
 */
function body(system: 'esm' | 'cjs'): string {
  return `
  const expected = ${JSON.stringify(SUBPATHS)};
  const exportsOk = {};
  for (const [subpath, name] of Object.entries(expected)) {
    const mod = mods[subpath];
    exportsOk[subpath] = name === null ? typeof mod === 'object' && mod !== null : typeof mod[name] === 'function';
  }
  const { createJobbus, payloadOf } = mods.jobbus;
  let handled;
  const seen = new Promise((resolve) => (handled = resolve));
  const jobs = createJobbus();
  const worker = jobs.worker({ queues: ['package-check'] });
  worker.register('greet', (job) => handled(payloadOf(job)));
  await worker.start();
  await jobs.enqueue({ name: 'greet', queue: 'package-check', payload: { from: '${system}' } });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('the job was not handled within 10 s')), 10_000).unref());
  const payload = await Promise.race([seen, timeout]);
  await jobs.close();
  console.log(${JSON.stringify(RESULT_MARK)} + JSON.stringify({ exportsOk, payload }));
`;
}

/** `check.mjs`: every subpath through `import`. */
export function esmScript(): string {
  const imports = Object.keys(SUBPATHS).map((s, i) => `import * as m${i} from '${s}';`);
  const mods = Object.keys(SUBPATHS).map((s, i) => `'${s}': m${i}`);
  return [...imports, `const mods = { ${mods.join(', ')} };`, body('esm')].join('\n');
}

/** `check.cjs`: every subpath through `require` (require of ESM, Node >= 20.19). */
export function cjsScript(): string {
  const mods = Object.keys(SUBPATHS).map((s) => `'${s}': require('${s}')`);
  return [`'use strict';`, `const mods = { ${mods.join(', ')} };`, `(async () => {`, body('cjs'), `})().catch((err) => { console.error(err); process.exit(1); });`].join(
    '\n',
  );
}

/**
 * `check.ts`: imports each subpath and proves its types are real, not an unresolved `any`: a
 * function assigned to a `number` must be an error (`@ts-expect-error` fails when it is not).
 */
export function typeCheckFile(): string {
  const lines = ["import type { Scheduler } from 'jobbus/scheduler';"];
  const values = Object.entries(SUBPATHS).filter((e): e is [string, string] => e[1] !== null);
  for (const [subpath, name] of values) lines.push(`import { ${name} } from '${subpath}';`);
  for (const [, name] of values) lines.push('// @ts-expect-error: a typed function is not a number', `export const ${name}Typed: number = ${name};`);
  lines.push(
    '// @ts-expect-error: a job needs its queue',
    "export const missingQueue = () => createJobbus().enqueue({ name: 'x', payload: {} });",
    '// @ts-expect-error: Scheduler is an interface, not a number',
    'export const scheduler: Scheduler = 1;',
  );
  return lines.join('\n') + '\n';
}

/**
 * A tsconfig for check.ts. `skipLibCheck` off, so the package's own declaration files are
 * checked too: they must need nothing but its dependencies, Node's types and, for
 * `jobbus/nats`, the NATS peers.
 */
export function tsconfig(resolution: 'NodeNext' | 'Bundler'): string {
  const module = resolution === 'NodeNext' ? 'NodeNext' : 'ESNext';
  const compilerOptions = { target: 'ES2022', module, moduleResolution: resolution, strict: true, noEmit: true, skipLibCheck: false, types: ['node'] };
  return JSON.stringify({ compilerOptions, files: ['check.ts'] }, null, 2);
}
