import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashLocal, MAX_FILE_INPUT } from '../src/build/inputs/index.js';
import { readLock } from '../src/build/lock.js';
import { loadRecipe, parseRecipe } from '../src/build/recipe.js';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT } from './helpers/shared.js';

const GOOD = `name: t
sourceDateEpoch: 1700000000
inputs:
  busybox: { debian-binary: busybox-static=1:1.35.0-4+deb12u1+b1 }
  vmlinuz: { from: kernel.vmlinuz }
components:
  kernel:
    type: extract
    source: { input: busybox, member: bin/busybox }
    output: vmlinuz
  cmdline:
    type: cmdline
    value: "console=ttyS0"
    output: cmdline.txt
  uki:
    type: uki
    stub: busybox
    kernel: vmlinuz
    output: uki.efi
`;

/** The error message for recipe text (throws if it parses). */
function err(text: string): string {
  try {
    parseRecipe(text, 'r.yaml');
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the recipe to be rejected');
}

describe('recipe loader', () => {
  it('parses a valid recipe and orders components by from: dependencies', () => {
    const r = parseRecipe(GOOD, 'r.yaml');
    expect(Object.keys(r.components)).toEqual(['kernel', 'cmdline', 'uki']);
    expect(r.inputs.busybox).toEqual({ kind: 'debian-binary', package: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' });
    expect(r.inputs.vmlinuz).toEqual({ kind: 'from', component: 'kernel', output: 'vmlinuz' });
  });

  it('every shipped recipe validates', async () => {
    const files = readdirSync(resolve(ROOT, 'recipes')).filter((f) => f.endsWith('.yaml'));
    expect(files).toEqual(expect.arrayContaining(['default.yaml', 'initrd.yaml', 'uki.yaml', 'cmdline.yaml']));
    for (const f of files) await expect(loadRecipe(resolve(ROOT, 'recipes', f))).resolves.toMatchObject({ name: f.replace('.yaml', '') });
  });

  it('default.yaml builds the same kernel (base + component) as kernel.yaml, so they share its cache key', async () => {
    const d = await loadRecipe(resolve(ROOT, 'recipes/default.yaml'));
    const k = await loadRecipe(resolve(ROOT, 'recipes/kernel.yaml'));
    expect(d.components.kernel).toEqual(k.components.kernel);
    expect(d.base).toEqual(k.base);
    for (const i of ['linux-source', 'config']) expect(d.inputs[i]).toEqual(k.inputs[i]);
  });

  it('bad YAML: one line with line:col', () => {
    expect(err('name: t\ncomponents:\n  a: [1, 2\n')).toMatch(/^r\.yaml:4:1: bad YAML: /);
    expect(err('name: t\nname: u\n')).toMatch(/^r\.yaml:2:1: bad YAML: Map keys must be unique/);
  });

  it('YAML past the resource limits (alias bombs, deep nesting) is a recipe error with its line, not a crash', () => {
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      laughs.push(
        `${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(9)
          .fill(`*${'abcdefghij'[i - 1]}`)
          .join(', ')}]`,
      );
    expect(err(`${laughs.join('\n')}\nname: t\n`)).toBe('r.yaml:2:8: bad YAML: aliases expand too much (more than 100 alias expansions)');
    expect(err(`name: t\nx: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`)).toMatch(/^r\.yaml:2:\d+: bad YAML: nested more than 64 levels deep$/);
    // the top-level map is level 1: 63 brackets reach level 64, the 64th bracket (column 67) is one too many
    expect(err(`name: t\nx: ${'['.repeat(64)}${']'.repeat(64)}\n`)).toBe('r.yaml:2:67: bad YAML: nested more than 64 levels deep');
    const block = Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n');
    expect(err(`name: t\nx:\n${block} 1\n`)).toMatch(/^r\.yaml:\d+:\d+: bad YAML: nested more than 64 levels deep$/);
    expect(err(`name: t\nx: ${'['.repeat(63)}${']'.repeat(63)}\n`)).toMatch(/^r\.yaml:1:1: (?!bad YAML)/); // 64 levels parse; the schema decides
    expect(err('name: *nope\n')).toBe('r.yaml:1:7: bad YAML: Unresolved alias (the anchor must be set before the alias): nope');
  });

  it('schema errors point at the offending line', () => {
    const lines = GOOD.split('\n');
    // unknown key inside a component (line 13 is `value: ...` of cmdline)
    const withTypo = [...lines.slice(0, 13), '    valeu: "x"', ...lines.slice(13)].join('\n');
    expect(err(withTypo)).toBe('r.yaml:14:5: components.cmdline.valeu: unknown key');
    expect(err(GOOD.replace('sourceDateEpoch: 1700000000', 'sourceDateEpoch: -5'))).toBe('r.yaml:2:18: sourceDateEpoch: must be >= 0');
    expect(err(GOOD.replace('{ from: kernel.vmlinuz }', '{ from: kernel.vmlinuz, file: x }'))).toBe(
      'r.yaml:5:12: inputs.vmlinuz: give exactly one of file, url (+sha256), debian-binary, debian-source, git (+commit), from',
    );
    expect(err(GOOD.replace('    type: uki\n', '    type: ukii\n'))).toMatch(/^r\.yaml:16:11: components\.uki\.type: must be one of "run", "extract"/);
    expect(err(GOOD.replace('    output: uki.efi\n', ''))).toBe('r.yaml:16:5: components.uki: missing required key "output"');
    expect(err(GOOD.replace('name: t', 'name: T x'))).toMatch(/^r\.yaml:1:7: name: malformed value/);
  });

  it('cross-reference errors point at the reference', () => {
    expect(err(GOOD.replace('kernel: vmlinuz', 'kernel: nothere'))).toBe(
      'r.yaml:18:13: components.uki.kernel: no input named "nothere" (declare it under inputs:)',
    );
    expect(err(GOOD.replace('{ from: kernel.vmlinuz }', '{ from: kernel.bzImage }'))).toBe(
      'r.yaml:5:20: inputs.vmlinuz.from: no component output "kernel.bzImage"',
    );
    expect(err(GOOD.replace('output: cmdline.txt', 'output: vmlinuz'))).toBe(
      'r.yaml:12:5: components.cmdline: output "vmlinuz" is also an output of component "kernel" (output file names are unique per recipe)',
    );
    const cyclic = GOOD.replace('source: { input: busybox, member: bin/busybox }', 'source: vmlinuz');
    expect(err(cyclic)).toBe('r.yaml:8:5: components.kernel: dependency cycle: kernel -> kernel');
    expect(err(`${GOOD}  k:\n    type: run\n    steps: [{ run: "true" }]\n    outputs: [o]\n`)).toBe(
      'r.yaml:21:5: components.k: a run component needs a base image (top-level or component "base:")',
    );
  });

  it('measure.pcr shape uki names the disk it boots from (a component output, or none): PCR5 is never assumed', () => {
    const pcr = (extra: string) => `${GOOD}measure:\n  pcr:\n    shapes: [uki]\n    uki: uki.uki.efi\n${extra}`;
    expect(err(pcr(''))).toBe(
      'r.yaml:21:3: measure.pcr: shape uki needs disk: the component output holding the disk image (its GPT is measured into PCR5), or none (a medium without a GPT)',
    );
    expect(err(pcr('    disk: uki.disk.img\n'))).toBe('r.yaml:24:11: measure.pcr.disk: no component output "uki.disk.img"');
    expect(err(pcr('    disk: nothing\n'))).toMatch(/^r\.yaml:24:11: measure\.pcr\.disk: /);
    expect(parseRecipe(pcr('    disk: none\n'), 'r.yaml').measure?.pcr?.disk).toBe('none');
    expect(parseRecipe(pcr('    disk: cmdline.cmdline.txt\n'), 'r.yaml').measure?.pcr?.disk).toBe('cmdline.cmdline.txt');
  });

  it('an output may not take a name build writes itself (measurements.json, build-record.json, logs, manifest, the lock)', () => {
    const reserved = 'reserved: build-record.json, logs, manifest, measurements.json, source, t.lock.json';
    for (const name of ['measurements.json', 'build-record.json', 'logs', 'manifest', 't.lock.json'])
      expect(err(GOOD.replace('output: cmdline.txt', `output: ${name}`))).toBe(
        `r.yaml:14:5: components.cmdline.output: output "${name}" is a name build writes itself beside the artifacts (${reserved})`,
      );
    const run = `base: { suite: bookworm }\n${GOOD}  k:\n    type: run\n    steps: [{ run: "true" }]\n    outputs: [ok.bin, build-record.json]\n`;
    expect(err(run)).toBe(`r.yaml:24:5: components.k.outputs: output "build-record.json" is a name build writes itself beside the artifacts (${reserved})`);
  });

  it('the CLI prints the one-line error and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recipe-'));
    writeFileSync(join(dir, 'bad.yaml'), 'name: t\nsourceDateEpoch: 1\ncomponents:\n  c:\n    type: cmdline\n    value: 1\n    output: c.txt\n');
    const r = await cli(['build', join(dir, 'bad.yaml'), '--out', join(dir, 'out')]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(`cvm-measure: error: ${join(dir, 'bad.yaml')}:6:12: components.c.value: must be string`);
  });
});

describe('untrusted recipes: file: inputs stay inside the recipe directory and are bounded regular files', () => {
  const RECIPE = (file: string) =>
    `name: t\nsourceDateEpoch: 1\ninputs:\n  f: { file: ${JSON.stringify(file)} }\ncomponents:\n  c:\n    type: extract\n    source: f\n    output: f.out\n`;
  /** Builds a recipe whose one input is `file`, in a fresh directory prepared by `setup`; returns the CLI result and paths. */
  async function buildWith(file: string, setup: (dir: string) => void = () => {}) {
    const top = mkdtempSync(join(tmpdir(), 'untrusted-'));
    const dir = join(top, 'recipe');
    mkdirSync(dir);
    writeFileSync(join(top, 'outside.txt'), 'secret\n');
    writeFileSync(join(dir, 'inside.txt'), 'inside\n');
    setup(dir);
    writeFileSync(join(dir, 'r.yaml'), RECIPE(file));
    const cache = join(top, 'cache');
    const r = await cli(['build', join(dir, 'r.yaml'), '--out', join(top, 'out')], { env: { CVM_CACHE: cache } });
    return { r, dir, top, cache };
  }

  it.each([
    ['../outside.txt', () => {}, 'outside'],
    ['/etc/hostname', () => {}, 'outside'],
    ['/dev/zero', () => {}, 'outside'],
    ['link', (d: string) => symlinkSync('../outside.txt', join(d, 'link')), 'outside'],
    ['zero', (d: string) => symlinkSync('/dev/zero', join(d, 'zero')), 'outside'],
    ['fifo', (d: string) => execFileSync('mkfifo', [join(d, 'fifo')]), 'not regular'],
    ['sub', (d: string) => mkdirSync(join(d, 'sub')), 'not regular'],
    [
      'huge',
      (d: string) => {
        writeFileSync(join(d, 'huge'), '');
        truncateSync(join(d, 'huge'), MAX_FILE_INPUT + 1); // sparse: nothing is written
      },
      'too big',
    ],
  ] as const)(
    'file: %s is refused with one line, nothing read or left behind',
    async (file, setup, why) => {
      const { r, dir, cache } = await buildWith(file, setup);
      expect(r.code).toBe(1);
      const real = realpathSync(dir);
      const path = file.startsWith('/') ? file : join(real, file);
      const expected = {
        outside: `resolves to ${file === 'link' ? join(real, '../outside.txt') : file === 'zero' ? '/dev/zero' : resolve(real, file)}, outside the recipe's directory ${real} (file: inputs must lie inside it)`,
        'not regular': `${path} is not a regular file`,
        'too big': `${path} has ${MAX_FILE_INPUT + 1} bytes, more than the ${MAX_FILE_INPUT} a file: input may have`,
      }[why];
      expect(errorLine(r)).toBe(`cvm-measure: error: input f (file ${file}): ${expected}`);
      expect(existsSync(join(cache, 'blobs')) ? readdirSync(join(cache, 'blobs'), { recursive: true }) : []).toEqual([]);
      expect(existsSync(join(cache, 'tmp')) ? readdirSync(join(cache, 'tmp')) : []).toEqual([]);
    },
    30_000,
  );

  it.each(['logs', 'measurements.json', 'build-record.json'])(
    'an output named %s is refused before anything is written',
    async (name) => {
      const dir = mkdtempSync(join(tmpdir(), 'untrusted-'));
      writeFileSync(join(dir, 'r.yaml'), `name: t\nsourceDateEpoch: 1\ncomponents:\n  c:\n    type: cmdline\n    value: x\n    output: ${name}\n`);
      const r = await cli(['build', join(dir, 'r.yaml'), '--out', join(dir, 'out')], { env: { CVM_CACHE: join(dir, 'cache') } });
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(
        new RegExp(
          `^cvm-measure: error: ${join(dir, 'r.yaml')}:7:5: components\\.c\\.output: output "${name}" is a name build writes itself beside the artifacts \\(reserved: `,
        ),
      );
      expect(existsSync(join(dir, 'out'))).toBe(false);
    },
    30_000,
  );

  it('a symlink that stays inside the recipe directory is followed', async () => {
    const { r, top } = await buildWith('alias', (d) => symlinkSync('inside.txt', join(d, 'alias')));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(top, 'out', 'f.out'), 'utf8')).toBe('inside\n');
  }, 30_000);
});

describe('committed lock files', () => {
  const recipes = readdirSync(resolve(ROOT, 'recipes')).filter((f) => f.endsWith('.yaml'));
  it.each(recipes.filter((f) => existsSync(resolve(ROOT, 'recipes', f.replace(/\.yaml$/, '.lock.json')))))(
    '%s: every local file input matches its lock pin (so `build --locked` accepts it)',
    async (file) => {
      const recipe = await loadRecipe(resolve(ROOT, 'recipes', file));
      const lock = await readLock(recipe);
      expect(lock.recipe).toBe(recipe.name);
      for (const [name, spec] of Object.entries(recipe.inputs)) {
        if (spec.kind !== 'file') continue;
        const { sha256 } = await hashLocal(spec, recipe.dir, name);
        expect(lock.inputs[name]?.sha256, `${file}: input ${name}`).toBe(sha256);
      }
    },
  );
});
