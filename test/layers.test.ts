/**
 * Layers point down only: every relative import in src/ goes to the same layer or one below (the package
 * entries index.ts, entry/ → cli, site (the repository pages' script) → build, publish, verify, manifest → sign, measure → formats, tcg → util,
 * errors); and what browsers run (the layers measure, formats, tcg and everything the browser entries
 * reach) loads no node: module and names no Node global `Buffer`, directly or through util.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
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

// value imports only: `import type` is erased (util/hash.ts types process.getBuiltinModule's result)
const valueImports = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s(?!type\s)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map(
    (m) => (m[1] ?? m[2])!,
  );

/**
 * What browsers run: the browser-ready layers (measure, formats, tcg), the entries meant for browsers
 * (package.json's ./measure, ./formats, ./tcg, ./verify; the repository pages' script) and everything
 * they import from src/, transitively.
 */
function browserFiles(all: readonly string[]): Set<string> {
  const BROWSER = new Set(['measure', 'formats', 'tcg']);
  const entries = ['entry/measure.ts', 'entry/formats.ts', 'entry/tcg.ts', 'entry/verify.ts', 'site/main.ts'].map((f) => join(SRC, f));
  const reached = new Set([...all.filter((f) => BROWSER.has(layerOf(f))), ...entries]);
  for (const f of reached) {
    for (const spec of valueImports(f).filter((s) => s.startsWith('.'))) reached.add(resolve(dirname(f), spec).replace(/\.js$/, '.ts'));
  }
  return reached;
}

/** `x.Buffer`, `{ Buffer: … }`, `x.Buffer()` declarations and `A.Buffer` types name some object's member; on the global object it is the global. */
function isMemberName(n: ts.Identifier, sf: ts.SourceFile): boolean {
  const p = n.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === n) return !/^(globalThis|self|window)$/.test(p.expression.getText(sf));
  if (ts.isQualifiedName(p)) return p.right === n;
  return (
    (ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p)) &&
    p.name === n
  );
}

/** Every identifier `Buffer` in a file's code (comments and strings do not count), as "file:line: source line". */
function bufferIdentifiers(file: string, text = readFileSync(file, 'utf8')): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const hits: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isIdentifier(n) && n.text === 'Buffer' && !isMemberName(n, sf)) {
      const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      hits.push(`${relative(SRC, file)}:${line + 1}: ${text.split('\n')[line]!.trim()}`);
    }
    n.forEachChild(visit);
  };
  visit(sf);
  return hits;
}

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
    const node = [...browserFiles(all)].flatMap((f) =>
      valueImports(f)
        .filter((s) => s.startsWith('node:'))
        .map((s) => `${relative(SRC, f)}: ${s}`),
    );
    expect(node).toEqual([]);
  });
  it('nothing browsers run names the Node global Buffer (browsers have none): Uint8Array, DataView and util/bytes.ts instead', () => {
    const reached = browserFiles(all);
    // the closure reaches below the entries: verify's evidence checks, the shared byte helpers
    for (const f of ['verify/evidence.ts', 'util/bytes.ts', 'site/main.ts']) expect(reached).toContain(join(SRC, f));
    expect([...reached].sort().flatMap((f) => bufferIdentifiers(f))).toEqual([]);
  });
  it('the Buffer scan sees the global in code and types, not in comments, strings or as an object property', () => {
    const probe = [
      '// Buffer in a comment',
      "const s = 'Buffer';",
      'const o = { Buffer: 1 }; o.Buffer; interface I { Buffer: number }',
      'const a = Buffer.from(s);',
      'function f(b: Buffer) {}',
      'globalThis.Buffer;',
      'const { x } = Buffer;',
    ].join('\n');
    expect(bufferIdentifiers(join(SRC, 'probe.ts'), probe).map((h) => h.split(':')[1])).toEqual(['4', '5', '6', '7']);
  });
});
