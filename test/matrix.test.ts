/**
 * `build --matrix`: two cmdline variants of the uki recipe (one kernel, one initrd, one firmware) built
 * two at a time: every shared component is built by exactly one variant and cached for the other (the
 * build log and the build record say so), each variant is signed, and index.json lists both.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT } from './helpers/shared.js';

const CACHE = process.env.CVM_TEST_CACHE ?? join(tmpdir(), 'cvm-measure-test-cache');
const env = { CVM_CACHE: CACHE, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'cvm-config-')) };

const MATRIX = `axes:
  cmdline:
    quiet: { components.cmdline.value: "console=ttyS0 rdinit=/init quiet" }
    debug: { components.cmdline.value: "console=ttyS0 rdinit=/init debug" }
`;

/** The uki recipe, signed, with a SOURCE_DATE_EPOCH no earlier run used (so no component is cached yet). */
function recipeDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'matrix-'));
  for (const f of ['uki.yaml', 'uki.lock.json', 'initrd', 'uki']) cpSync(resolve(ROOT, 'recipes', f), join(dir, f), { recursive: true });
  const epoch = 1_700_000_000 + Math.floor(Math.random() * 1e8);
  const text = readFileSync(join(dir, 'uki.yaml'), 'utf8').replace('sourceDateEpoch: 1700000000', `sourceDateEpoch: ${epoch}`);
  writeFileSync(join(dir, 'uki.yaml'), `${text}sign: { key: default }\n`);
  writeFileSync(join(dir, 'matrix.yaml'), MATRIX);
  return dir;
}

interface Row {
  name: string;
  built: string[];
  cached: string[];
  manifest: number;
}

describe('build --matrix', () => {
  it('two cmdline variants over one kernel + initrd: shared components built once, two signed manifests, an index', async () => {
    const dir = recipeDir();
    const out = mkdtempSync(join(tmpdir(), 'matrix-out-'));
    const r = await cli(['build', join(dir, 'uki.yaml'), '--matrix', join(dir, 'matrix.yaml'), '--parallel', '2', '--locked', '--out', out, '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { index: string; parallel: number; variants: Row[] };
    expect(j.parallel).toBe(2);
    expect(j.variants.map((v) => v.name)).toEqual(['quiet', 'debug']);
    for (const shared of ['firmware', 'kernel', 'initrd']) {
      expect(j.variants.filter((v) => v.built.includes(shared)).length, shared).toBe(1);
      expect(j.variants.filter((v) => v.cached.includes(shared)).length, shared).toBe(1);
    }
    for (const v of j.variants) {
      expect(v.built, v.name).toEqual(expect.arrayContaining(['cmdline', 'uki']));
      expect(v.manifest, v.name).toBeGreaterThan(0);
      expect(readFileSync(join(out, v.name, 'cmdline.txt'), 'utf8')).toBe(`console=ttyS0 rdinit=/init ${v.name}`);
      const log = readFileSync(join(out, v.name, 'logs/build.log'), 'utf8');
      for (const c of v.cached) expect(log, v.name).toMatch(new RegExp(`component ${c} cached key`));
      const record = JSON.parse(readFileSync(join(out, v.name, 'build-record.json'), 'utf8')) as {
        predicate: { buildDefinition: { internalParameters: { components: { name: string; cached: boolean }[] } } };
      };
      const cached = record.predicate.buildDefinition.internalParameters.components.filter((c) => c.cached).map((c) => c.name);
      expect(cached.sort(), v.name).toEqual([...v.cached].sort());
    }
    const index = JSON.parse(readFileSync(j.index, 'utf8')) as {
      schema: string;
      variants: {
        name: string;
        values: Record<string, string>;
        measurements: { path: string; sha256: string };
        manifest: { path: string; sha256: string }[];
      }[];
    };
    expect(index.schema).toBe('cvm-measure/matrix-index/v1');
    expect(index.variants.map((v) => [v.name, v.values])).toEqual([
      ['quiet', { cmdline: 'quiet' }],
      ['debug', { cmdline: 'debug' }],
    ]);
    expect(index.variants[0]!.measurements.sha256).not.toBe(index.variants[1]!.measurements.sha256);
    for (const v of index.variants) for (const f of v.manifest) expect(f.path.startsWith(`${v.name}/manifest/`), f.path).toBe(true);
  }, 600_000);

  it('a matrix path the recipe does not have is an error naming the variant and the path', async () => {
    const dir = recipeDir();
    writeFileSync(join(dir, 'matrix.yaml'), MATRIX.replace('components.cmdline.value: "console=ttyS0 rdinit=/init debug"', 'components.cmdline.valeu: x'));
    const r = await cli(['build', join(dir, 'uki.yaml'), '--matrix', join(dir, 'matrix.yaml'), '--out', mkdtempSync(join(tmpdir(), 'matrix-out-'))], { env });
    expect([r.code, errorLine(r)]).toEqual([
      1,
      `cvm-measure: error: ${join(dir, 'matrix.yaml')}: variant debug: ${join(dir, 'uki.yaml')} has no components.cmdline.valeu`,
    ]);
  });
});
