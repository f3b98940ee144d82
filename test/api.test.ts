/**
 * The public API, pinned: the sorted exported names of every package entry (`cvm-measure` and each
 * subpath, src/index.ts and src/entry/*.ts) must equal test/api/<entry>.txt — one name a line,
 * `type ` before type-only exports. An unintended export or removal fails here.
 *
 * To accept an intended change: `UPDATE_API=1 npx vitest run test/api.test.ts`, then review and commit
 * the diff of test/api/*.txt with the change (and docs/library.md when a subpath gains or loses names).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/shared.js';

const ENTRIES: Record<string, string> = {
  'cvm-measure': 'src/index.ts',
  measure: 'src/entry/measure.ts',
  formats: 'src/entry/formats.ts',
  tcg: 'src/entry/tcg.ts',
  sign: 'src/entry/sign.ts',
  manifest: 'src/entry/manifest.ts',
  build: 'src/entry/build.ts',
};

/** Sorted export names of each entry, type-only ones as `type Name`. */
function exportedNames(): Record<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const files = Object.values(ENTRIES).map((f) => join(ROOT, f));
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const out: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(ENTRIES)) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(join(ROOT, file))!)!;
    out[name] = checker.getExportsOfModule(module).map((s) => {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      return target.flags & ts.SymbolFlags.Value ? s.name : `type ${s.name}`;
    }).sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')) || a.localeCompare(b));
  }
  return out;
}

describe('public API', () => {
  const actual = exportedNames();
  const fileOf = (name: string) => join(ROOT, 'test/api', `${name.replace('cvm-measure', 'index')}.txt`);
  if (process.env.UPDATE_API) for (const [name, names] of Object.entries(actual)) writeFileSync(fileOf(name), `${names.join('\n')}\n`);

  it.each(Object.keys(ENTRIES))('%s exports exactly the names in test/api (UPDATE_API=1 to accept a change)', (name) => {
    expect(existsSync(fileOf(name)), `${fileOf(name)} missing: run UPDATE_API=1 npx vitest run test/api.test.ts`).toBe(true);
    const pinned = readFileSync(fileOf(name), 'utf8').split('\n').filter(Boolean);
    expect(actual[name]).toEqual(pinned);
  });

  it('the root is exactly the union of measure, formats, tcg, sign, manifest and every error class', () => {
    const errors = ['BuildError', 'CvmError', 'FormatError', 'InputError', 'UsageError', 'VerificationError', 'isCvmError'];
    const union = new Set([...errors, ...['measure', 'formats', 'tcg', 'sign', 'manifest'].flatMap((n) => actual[n]!)]);
    expect(new Set(actual['cvm-measure'])).toEqual(union);
  });

  it('the runtime values of each subpath are the pinned non-type names', async () => {
    for (const [name, file] of Object.entries(ENTRIES)) {
      const mod = (await import(join(ROOT, file))) as Record<string, unknown>;
      expect(Object.keys(mod).sort(), name).toEqual(actual[name]!.filter((n) => !n.startsWith('type ')).sort());
    }
  });
});
