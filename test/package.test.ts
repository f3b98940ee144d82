/**
 * The published package as a user gets it: `npm pack`, install the tarball into a scratch project
 * (dependencies from the npm cache when they are there), then require and import every subpath, check
 * which npm packages the pure entries load, and run the bin. Needs a built dist/ (`npm run build`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/shared.js';

const SUBPATHS = [
  'cvm-measure',
  'cvm-measure/measure',
  'cvm-measure/formats',
  'cvm-measure/tcg',
  'cvm-measure/sign',
  'cvm-measure/manifest',
  'cvm-measure/verify',
  'cvm-measure/build',
];
/** The only npm packages each pure entry may load: @noble crypto; the root and manifest add ajv (schema validation). */
const ALLOWED: Record<string, string[]> = {
  'cvm-measure/measure': ['@noble/hashes'],
  'cvm-measure/formats': ['@noble/hashes'],
  'cvm-measure/tcg': ['@noble/hashes'],
  'cvm-measure/sign': ['@noble/hashes', '@noble/curves'],
  'cvm-measure/manifest': ['@noble/hashes', '@noble/curves', 'ajv'],
  'cvm-measure/verify': ['@noble/hashes'],
  'cvm-measure': ['@noble/hashes', '@noble/curves', 'ajv'],
};

let dir: string;
const node = (args: string[], env: Record<string, string> = {}) =>
  execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
const installed = (...p: string[]) => join(dir, 'node_modules/cvm-measure', ...p);

/** Package names of the node_modules URLs an import of `spec` resolves (the package itself left out). */
function packagesLoadedBy(spec: string): string[] {
  const record = join(dir, `record-${spec.replace(/\//g, '_')}.txt`);
  writeFileSync(record, '');
  node(['--import', resolve(ROOT, 'test/helpers/record-packages.mjs'), '--input-type=module', '-e', `await import(${JSON.stringify(spec)})`], {
    CVM_RECORD_PACKAGES: record,
  });
  const names = readFileSync(record, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((url) => {
      const parts = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
      return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    });
  return [...new Set(names)].filter((n) => n !== 'cvm-measure').sort();
}

describe('the packed package in a scratch project', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cvm-measure-pack-'));
    // --ignore-scripts: no `prepare` rebuild of dist/ under the other test files' feet
    const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop()!;
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '0.0.0', private: true }));
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent', join(dir, tarball)], {
      cwd: dir,
      encoding: 'utf8',
    });
  }, 120_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every file the exports map names is in the package, and no source map is', () => {
    const pkg = JSON.parse(readFileSync(installed('package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
    for (const [sub, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue; // ./schemas/*, ./package.json
      expect(Object.keys(target), sub).toEqual(['types', 'import', 'require']);
      for (const file of Object.values(target)) expect(existsSync(installed(file)), `${sub} → ${file}`).toBe(true);
    }
    expect(Object.keys(pkg.exports).sort()).toEqual([
      '.',
      './build',
      './formats',
      './manifest',
      './measure',
      './package.json',
      './schemas/*',
      './sign',
      './tcg',
      './verify',
    ]);
    const maps = execFileSync('find', [installed(), '-name', '*.map'], { encoding: 'utf8' }).trim();
    expect(maps).toBe('');
  });

  it.each(SUBPATHS)('require(%s) and import(%s) give the same names', (spec) => {
    const viaRequire = JSON.parse(node(['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(spec)})).sort()))`])) as string[];
    const viaImport = JSON.parse(
      node(['--input-type=module', '-e', `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(spec)})).sort()))`]),
    ) as string[];
    expect(viaRequire.length).toBeGreaterThan(5);
    expect(viaRequire).toEqual(viaImport.filter((n) => n !== 'module.exports'));
  });

  it('require() of an entry prints no warning', () => {
    const r = spawnSync(process.execPath, ['-e', "require('cvm-measure'); require('cvm-measure/build')"], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(''); // no ExperimentalWarning for require(esm)
  });

  it.each(Object.keys(ALLOWED))('import(%s) loads only the npm packages it may', (spec) => {
    const loaded = packagesLoadedBy(spec);
    expect(loaded.filter((p) => !ALLOWED[spec]!.includes(p))).toEqual([]);
    if (spec === 'cvm-measure/measure') expect(loaded).toEqual(['@noble/hashes']);
  });

  it('the root entry loads no process, archive or recipe package; cvm-measure/build does', () => {
    const root = packagesLoadedBy('cvm-measure');
    for (const p of ['execa', 'cross-spawn', 'tar-stream', 'yaml', 'commander']) expect(root).not.toContain(p);
    expect(packagesLoadedBy('cvm-measure/build')).toEqual(expect.arrayContaining(['execa', 'yaml']));
  });

  it('the bin runs from the install without devDependencies (commander is bundled)', () => {
    expect(existsSync(join(dir, 'node_modules/commander'))).toBe(false);
    const bin = join(dir, 'node_modules/.bin/cvm-measure');
    expect(execFileSync(bin, ['--help'], { cwd: dir, encoding: 'utf8' })).toContain('Usage: cvm-measure');
    expect(execFileSync(bin, ['--version'], { cwd: dir, encoding: 'utf8' }).trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    // a split command (its chunks carry execa): loads and answers
    const doctor = spawnSync(bin, ['doctor', '--json', '--for', 'build'], { cwd: dir, encoding: 'utf8' });
    expect(doctor.status === 0 || doctor.status === 1, doctor.stderr).toBe(true); // 1: a host requirement is missing
    expect(Array.isArray((JSON.parse(doctor.stdout) as { packages: unknown }).packages)).toBe(true);
    // a fast command (its own bundle, dist/bin/fast/, found from the .bin symlink's target)
    expect(execFileSync(bin, ['measure', 'snp', '--help'], { cwd: dir, encoding: 'utf8' })).toContain('Usage: cvm-measure measure snp');
  });
});
