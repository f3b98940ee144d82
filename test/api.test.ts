/**
 * The public API, pinned: the sorted exported names of every package entry (`cvm-measure` and each
 * subpath, src/index.ts and src/entry/*.ts) must equal test/api/<entry>.txt — one name a line,
 * `type ` before type-only exports. An unintended export or removal fails here.
 *
 * To accept an intended change: `UPDATE_API=1 npx vitest run test/api.test.ts`, then review and commit
 * the diff of test/api/*.txt with the change (and docs/library.md when a subpath gains or loses names).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
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
  verify: 'src/entry/verify.ts',
  build: 'src/entry/build.ts',
};

const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
const program = ts.createProgram(
  Object.values(ENTRIES).map((f) => join(ROOT, f)),
  { ...config.options, noEmit: true },
);
const checker = program.getTypeChecker();
const moduleOf = (file: string) => checker.getSymbolAtLocation(program.getSourceFile(join(ROOT, file))!)!;
const resolved = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);

/** Sorted export names of each entry, type-only ones as `type Name`. */
function exportedNames(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(ENTRIES)) {
    out[name] = checker
      .getExportsOfModule(moduleOf(file))
      .map((s) => {
        const target = resolved(s);
        return target.flags & ts.SymbolFlags.Value ? s.name : `type ${s.name}`;
      })
      .sort((a, b) => a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')) || a.localeCompare(b));
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

  it('the root is exactly the union of measure, formats, tcg, sign, manifest, verify and every error class', () => {
    const errors = ['BuildError', 'CvmError', 'FormatError', 'InputError', 'UsageError', 'VerificationError', 'isCvmError'];
    const union = new Set([...errors, ...['measure', 'formats', 'tcg', 'sign', 'manifest', 'verify'].flatMap((n) => actual[n]!)]);
    expect(new Set(actual['cvm-measure'])).toEqual(union);
  });

  it('the runtime values of each subpath are the pinned non-type names', async () => {
    for (const [name, file] of Object.entries(ENTRIES)) {
      const mod = (await import(join(ROOT, file))) as Record<string, unknown>;
      expect(Object.keys(mod).sort(), name).toEqual(actual[name]!.filter((n) => !n.startsWith('type ')).sort());
    }
  });
});

describe('TSDoc of the public API', () => {
  it('every exported function has a doc comment with @throws for each error class it throws', () => {
    const problems: string[] = [];
    for (const file of Object.values(ENTRIES)) {
      for (const s of checker
        .getExportsOfModule(moduleOf(file))
        .map(resolved)
        .filter((t) => t.flags & ts.SymbolFlags.Function)) {
        for (const d of s.declarations ?? []) {
          const where = `${relative(ROOT, d.getSourceFile().fileName)}:${s.name}`;
          const thrown = new Set([...d.getText().matchAll(/throw new (\w+Error)\b/g)].map((m) => m[1]!));
          const throwsTags = ts
            .getJSDocTags(d)
            .filter((t) => t.tagName.text === 'throws')
            .map((t) => t.getText());
          if (ts.getJSDocCommentsAndTags(d).length === 0) problems.push(`${where}: no doc comment`);
          for (const e of thrown) if (!throwsTags.some((t) => t.includes(e))) problems.push(`${where}: throws ${e} without @throws`);
        }
      }
    }
    expect([...new Set(problems)]).toEqual([]);
  });
});
