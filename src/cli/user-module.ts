/**
 * Loading the user's own module (`--handlers`, `--tasks`): a path relative to the working
 * directory (or a package name), imported as ESM. Exports are read by name or from the
 * default export object.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError, describeError } from '../errors.js';

/** The module's namespace. */
export type UserModule = Readonly<Record<string, unknown>>;

/** Import `spec` (named by `flag` in errors). A missing file or a module that throws while loading is a ValidationError. */
export async function loadUserModule(spec: string, flag: string, cwd: string): Promise<UserModule> {
  const local = spec.startsWith('.') || isAbsolute(spec) || spec.includes('/') || /\.[cm]?[jt]s$/.test(spec);
  const path = local ? resolve(cwd, spec) : undefined;
  if (path !== undefined && !existsSync(path)) throw new ValidationError(flag, `no such file: ${path}`);
  try {
    return (await import(path !== undefined ? pathToFileURL(path).href : spec)) as UserModule;
  } catch (err) {
    const hint = /\.ts$/.test(spec) && /Unknown file extension/.test(String(err)) ? ' (a .ts module needs a TypeScript loader: node --import tsx, or compile it)' : '';
    throw new ValidationError(flag, `cannot load ${spec}: ${describeError(err).slice(0, 500)}${hint}`, { cause: err });
  }
}

/** Export `name` of the module, or the property `name` of its default export. */
export function exportOf(mod: UserModule, name: string): unknown {
  if (mod[name] !== undefined) return mod[name];
  const d = mod.default;
  return typeof d === 'object' && d !== null ? (d as Record<string, unknown>)[name] : undefined;
}
