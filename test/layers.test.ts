/**
 * Layers point down only: every relative import in src/ goes to the same layer or one below (the package
 * entries index.ts, entry/ → cli, site (the repository pages' script) → build, publish, verify, manifest → sign, measure → formats, tcg → util,
 * errors); and the layers browsers run (measure, formats, tcg) load no node: module, directly or through util.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/shared.js';

const SRC = join(ROOT, 'src');
const RANK: Record<string, number> = {
  errors: 0,
  util: 0,
  formats: 1,
  tcg: 1,
  sign: 2,
  measure: 2,
  build: 3,
  publish: 3,
  verify: 3,
  manifest: 3,
  cli: 4,
  site: 4,
  entry: 5,
  index: 5,
};

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const layerOf = (file: string) => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');
const imports = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);

describe('import graph', () => {
  const all = files(SRC);
  it('every top-level directory has a layer', () => {
    expect(all.map(layerOf).filter((l) => !(l in RANK))).toEqual([]);
  });
  it('no import points up a layer', () => {
    const up: string[] = [];
    for (const f of all) {
      for (const spec of imports(f).filter((s) => s.startsWith('.'))) {
        const target = resolve(dirname(f), spec);
        if (RANK[layerOf(target)]! > RANK[layerOf(f)]!) up.push(`${relative(SRC, f)} → ${relative(SRC, target)}`);
      }
    }
    expect(up).toEqual([]);
  });
  it("the browser-ready layers and entries (measure, formats, tcg, verify, the repository pages' script) import no node: module", () => {
    const BROWSER = new Set(['measure', 'formats', 'tcg']);
    // value imports only: `import type` is erased (util/hash.ts types process.getBuiltinModule's result)
    const valueImports = (file: string) =>
      [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s(?!type\s)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map(
        (m) => (m[1] ?? m[2])!,
      );
    // what the browser-ready files reach: themselves and everything they import from src/, transitively
    const entries = ['entry/measure.ts', 'entry/formats.ts', 'entry/tcg.ts', 'entry/verify.ts', 'site/main.ts'].map((f) => join(SRC, f));
    const reached = new Set([...all.filter((f) => BROWSER.has(layerOf(f))), ...entries]);
    for (const f of reached) {
      for (const spec of valueImports(f).filter((s) => s.startsWith('.'))) reached.add(resolve(dirname(f), spec).replace(/\.js$/, '.ts'));
    }
    const node = [...reached].flatMap((f) =>
      valueImports(f)
        .filter((s) => s.startsWith('node:'))
        .map((s) => `${relative(SRC, f)}: ${s}`),
    );
    expect(node).toEqual([]);
  });
});
