/**
 * Layers point down only: every relative import in src/ goes to the same layer or one below (the package
 * entries index.ts, entry/ → cli → build, publish, verify, manifest → sign, measure → formats, tcg → util, errors).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/shared.js';

const SRC = join(ROOT, 'src');
const RANK: Record<string, number> = { errors: 0, util: 0, formats: 1, tcg: 1, sign: 2, measure: 2, build: 3, publish: 3, verify: 3, manifest: 3, cli: 4, entry: 5, index: 5 };

const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const layerOf = (file: string) => relative(SRC, file).split('/')[0]!.replace(/\.ts$/, '');
const imports = (file: string) => [...readFileSync(file, 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map((m) => (m[1] ?? m[2])!);

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
});
