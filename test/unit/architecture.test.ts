/**
 * The house rules of src/, checked on every run: adapters know nothing of jobs, broker clients
 * stay inside their adapter, and no source file grows into a god file.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = resolve(new URL('../../src', import.meta.url).pathname);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function specifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  found.push(...[...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!));
  return found;
}

const files = sources(src);
const rel = (f: string): string => relative(src, f);

describe('architecture', () => {
  it('src/eventbus imports nothing above it (only src/errors.ts, the one error hierarchy)', () => {
    const offending: string[] = [];
    for (const file of files.filter((f) => rel(f).startsWith('eventbus/'))) {
      for (const spec of specifiers(file).filter((s) => s.startsWith('.'))) {
        const target = rel(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        if (!target.startsWith('eventbus/') && target !== 'errors.ts') offending.push(`${rel(file)} -> ${target}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('broker, store and registry clients are imported only inside their adapter folder (the buses, the lock providers, the schema registry client)', () => {
    const owners: Record<string, readonly string[]> = {
      kafkajs: ['eventbus/kafka/'],
      '@platformatic/kafka': ['eventbus/kafka/'],
      '@nats-io/': ['eventbus/nats/', 'scheduler/locks/'],
      redis: ['scheduler/locks/'],
      pg: ['scheduler/locks/'],
      '@kafkajs/confluent-schema-registry': ['eventbus/schema/'],
      'prom-client': ['observability/'],
      '@opentelemetry/': ['observability/'],
    };
    const offending: string[] = [];
    for (const file of files) {
      for (const spec of specifiers(file)) {
        for (const [client, folders] of Object.entries(owners)) {
          const matches = client.endsWith('/') ? spec.startsWith(client) : spec === client || spec.startsWith(`${client}/`);
          if (matches && !folders.some((f) => rel(file).startsWith(f))) offending.push(`${rel(file)} imports ${spec}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('no source file is over 350 lines', () => {
    const long = files.map((f) => ({ file: rel(f), lines: readFileSync(f, 'utf8').split('\n').length })).filter((f) => f.lines > 350);
    expect(long).toEqual([]);
  });
});
