/**
 * Summarise a V8 CPU profile (`node --cpu-prof`): self time by layer (driver, bus adapter,
 * bridge/codec, runtime-backend, worker, face, Node internals, …) and the top self-time
 * functions. `npx tsx bench/profile-summary.ts <file.cpuprofile> [top] [from..to]`: `from..to`
 * keeps only the samples in that window of the monotonic clock in µs (bench/compare.ts logs
 * each leg's clock window so), leaving out start-up and setup; see bench/README.md.
 */
import { readFileSync } from 'node:fs';
import { printTable, round } from './lib.js';

/** The part of the `.cpuprofile` JSON this reads. */
interface CpuProfile {
  readonly nodes: readonly { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Layers by the first matching source path fragment (after `file://` urls are made relative). */
const LAYERS: readonly (readonly [string, RegExp])[] = [
  ['driver: kafkajs', /node_modules\/kafkajs\//],
  ['driver: @platformatic/kafka', /node_modules\/@platformatic\//],
  ['driver: @nats-io', /node_modules\/@nats-io\//],
  ['driver: redis / bullmq', /node_modules\/(@redis|redis|bullmq|msgpackr)\//],
  ['bus adapter (src/eventbus)', /\/src\/eventbus\//],
  ['bridge/codec (src/bridge, src/headers, src/jobs)', /\/src\/(bridge|headers|jobs)\//],
  ['runtime-backend (src/runtime-backend)', /\/src\/runtime-backend\//],
  ['worker (src/worker)', /\/src\/worker\//],
  ['face, control, status, observability', /\/src\/(jobbus\.ts|control|status|observability|queue-stats|health)/],
  ['bench harness', /\/bench\//],
  ['tsx / esbuild loader', /node_modules\/(tsx|esbuild|get-tsconfig)\//],
  ['other packages', /node_modules\//],
  ['Node internals (node:*)', /^node:|^internal\//],
];

/** Layers that run on behalf of a caller: their time is charged to the nearest caller outside them too. */
const SHARED = new Set(['Node internals (node:*)', 'native / builtins', 'program (native, unattributed)', 'other']);

/** The layer of a call frame. */
function layerOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (url === '') return 'native / builtins';
  return LAYERS.find(([, re]) => re.test(url))?.[0] ?? 'other';
}

function main(): void {
  const [file, topArg, windowArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
  const top = Number(topArg ?? 30);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfUs = new Map<number, number>();
  const [from, to] = windowArg ? windowArg.split('..').map(Number) : [-Infinity, Infinity];
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t >= from! && t <= to!) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });

  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  /** The layer responsible for node `id`: its own, or for Node internals its nearest caller's. */
  const responsible = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!;
      const layer = layerOf(f.url, f.functionName);
      if (!SHARED.has(layer)) return layer;
      if (f.functionName === '(root)') break;
    }
    return layerOf(byId.get(id)!.url, byId.get(id)!.functionName);
  };
  const charged = new Map<string, number>();
  const layers = new Map<string, number>();
  const fns = new Map<string, { us: number; layer: string }>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!;
    const layer = layerOf(f.url, f.functionName);
    layers.set(layer, (layers.get(layer) ?? 0) + us);
    const r = responsible(id);
    charged.set(r, (charged.get(r) ?? 0) + us);
    const where = f.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${where ? `${where}:${f.lineNumber + 1}` : ''}`.trim();
    const e = fns.get(key) ?? { us: 0, layer };
    e.us += us;
    fns.set(key, e);
  }
  const total = [...layers.values()].reduce((a, b) => a + b, 0);
  const busy = total - (layers.get('idle') ?? 0);
  const pct = (us: number): string => `${round((100 * us) / busy, 1)}%`;
  console.log(`${file}${windowArg ? ` in ${windowArg}` : ''}: ${round(total / 1e6, 2)} s sampled, ${round(busy / 1e6, 2)} s busy (percentages of busy time)`);
  printTable('Self time by layer', ['layer', 'ms', 'share'], [...layers].filter(([l]) => l !== 'idle').sort((a, b) => b[1] - a[1]).map(([l, us]) => [l, Math.round(us / 1000), pct(us)]));
  const hooksUs = [...selfUs].filter(([id]) => /^node:(internal\/)?async_hooks$/.test(byId.get(id)!.url)).reduce((acc, [, us]) => acc + us, 0);
  console.log(`of which async_hooks (AsyncLocalStorage / promise hooks): ${Math.round(hooksUs / 1000)} ms, ${pct(hooksUs)}`);
  console.log('');
  printTable(
    'Self time by responsible layer (Node internals and builtins charged to their nearest caller outside them)',
    ['layer', 'ms', 'share'],
    [...charged].filter(([l]) => l !== 'idle').sort((a, b) => b[1] - a[1]).map(([l, us]) => [l, Math.round(us / 1000), pct(us)]),
  );
  console.log('');
  printTable(`Top ${top} functions by self time`, ['function', 'layer', 'ms', 'share'], [...fns].filter(([, e]) => e.layer !== 'idle').sort((a, b) => b[1].us - a[1].us).slice(0, top).map(([k, e]) => [k, e.layer, Math.round(e.us / 1000), pct(e.us)]));
}

main();
