/**
 * `--backend buildkit` against `--backend bwrap`: the CI recipes (initrd, cmdline, uki) and a recipe whose
 * `run` component takes a built-in's output, unpacks a pinned .deb over two steps and reports what the step
 * sees (environment, umask, uid, capabilities, network interfaces, cwd): every artifact and measurement is
 * byte-identical. A failing step names the component, step, exit code and log; the pass-through flags are
 * checked against what the client accepts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { buildArgs, findClient } from '../src/build/buildkit/client.js';
import { probeBackend } from '../src/build/sandbox/index.js';
import { toolMissing } from '../src/build/sandbox/smoke.js';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT } from './helpers/shared.js';
import { describeIf } from './sandbox.fixture.js';
import { PARITY_RECIPE, parityDir } from './helpers/buildkit.js';

const CACHE = process.env.CVM_TEST_CACHE ?? join(tmpdir(), 'cvm-measure-test-cache');
const env = { CVM_CACHE: CACHE, XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'cvm-config-')) };
const client = await findClient();
const why = typeof client === 'string' ? client : ((await probeBackend('bwrap')) ?? (await toolMissing('mmdebstrap')));

interface Built {
  backend: string | null;
  artifacts: { name: string; sha256: string }[];
  measurements: string;
  out: string;
}

async function build(recipe: string, backend: string, extra: string[] = []): Promise<Built> {
  const out = mkdtempSync(join(tmpdir(), `bk-${backend}-`));
  const r = await cli(['build', recipe, '--out', out, '--backend', backend, '--rebuild', '--json', ...extra], { env });
  expect(r.code, `${backend}: ${r.stderr}`).toBe(0);
  const j = JSON.parse(r.stdout) as Built;
  return { ...j, out, measurements: readFileSync(join(out, 'measurements.json'), 'utf8') };
}

describeIf(why, 'buildkit backend', () => {
  it('the CI recipes (initrd, cmdline, uki): identical artifacts and measurements through buildkit and bwrap', async () => {
    for (const name of ['initrd', 'cmdline', 'uki']) {
      const recipe = resolve(ROOT, 'recipes', `${name}.yaml`);
      const [b, k] = [await build(recipe, 'bwrap', ['--locked']), await build(recipe, 'buildkit', ['--locked'])];
      expect(k.artifacts, name).toEqual(b.artifacts);
      expect(k.measurements, name).toBe(b.measurements);
    }
  }, 600_000);

  it('a run component (two steps, a built-in output as input, a pinned .deb) is byte-identical through buildkit and bwrap', async () => {
    const dir = parityDir();
    const recipe = join(dir, 'parity.yaml');
    const b = await build(recipe, 'bwrap');
    const k = await build(recipe, 'buildkit', ['--locked']);
    expect([b.backend, k.backend]).toEqual(['bwrap', 'buildkit']);
    expect(k.artifacts.map((a) => a.name)).toEqual(['initrd.initrd.cpio', 'shell.tree.tar.gz', 'shell.report.txt']);
    expect(k.artifacts).toEqual(b.artifacts);
    const report = readFileSync(join(k.out, 'report.txt'), 'utf8');
    expect(report).toContain('EXTRA=from the recipe\n');
    expect(report).toContain(
      '\n0022\n0\n/build/shell\n.home\n.step-1.sh\n.step-2.sh\ntree\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\nlo\n',
    );
    const log = readFileSync(join(k.out, 'logs/shell.log'), 'utf8');
    expect(log).toMatch(/^### shell: BuildKit build \(docker (buildx )?build, client /);
    expect(log).toContain('### shell: unpack\n');
    expect(readFileSync(join(k.out, 'logs/build.log'), 'utf8')).toContain('run shell in buildkit');
  }, 900_000);

  it("the context kept per component and base: a build after one with more steps sees no stale step script; only this build's base and inputs stay", async () => {
    const dir = parityDir();
    const recipe = join(dir, 'parity.yaml');
    writeFileSync(
      recipe,
      PARITY_RECIPE.replace('    outputs: [tree.tar.gz, report.txt]', '      - { name: extra, run: "true" }\n    outputs: [tree.tar.gz, report.txt]'),
    );
    const three = await build(recipe, 'buildkit');
    expect(readFileSync(join(three.out, 'report.txt'), 'utf8')).toContain('\n.step-3.sh\n');
    writeFileSync(recipe, PARITY_RECIPE);
    const two = await build(recipe, 'buildkit');
    expect(readFileSync(join(two.out, 'report.txt'), 'utf8')).toContain('\n.home\n.step-1.sh\n.step-2.sh\ntree\n');
    const names = readdirSync(join(CACHE, 'buildkit-context')).filter((n) => n.startsWith('shell-'));
    expect(names.filter((n) => n.endsWith('.lock'))).toEqual([]); // released
    expect(names).toHaveLength(1); // one base
    const ctx = join(CACHE, 'buildkit-context', names[0]!);
    expect(readdirSync(ctx).sort()).toEqual(['bases', 'blobs', 'shell']);
    expect(readdirSync(join(ctx, 'bases'))).toHaveLength(1);
    expect(readdirSync(join(ctx, 'blobs'))).toHaveLength(3); // the busybox .deb, init and the initrd built-in's output
  }, 900_000);

  it('a failing step names the component, the step, its exit code and the log holding its output', async () => {
    const dir = parityDir();
    writeFileSync(join(dir, 'parity.yaml'), PARITY_RECIPE.replace('mkdir -p tree/bin tree/dev', 'echo boom >&2; exit 3'));
    const out = mkdtempSync(join(tmpdir(), 'bk-fail-'));
    const r = await cli(['build', join(dir, 'parity.yaml'), '--out', out, '--backend', 'buildkit'], { env });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe(`cvm-measure: error: component shell: unpack failed (exit 3); log: ${join(out, 'logs/shell.log')}`);
    expect(readFileSync(join(out, 'logs/shell.log'), 'utf8')).toContain('boom');
  }, 900_000);

  it('--emit buildkit: the tree builds with the engine client alone (build.sh); --import gives the same artifacts and measurements, tampered outputs are refused', async () => {
    const c = client as Exclude<typeof client, string>;
    const dir = parityDir();
    const recipe = join(dir, 'parity.yaml');
    writeFileSync(recipe, PARITY_RECIPE.replace('from the recipe', `emitted ${Date.now()}`)); // a component key this cache has not built
    const tree = mkdtempSync(join(tmpdir(), 'bk-emit-'));
    const e = await cli(['build', recipe, '--emit', 'buildkit', '--out', tree, '--jobs', '2', '--json'], { env }); // pins the inputs into the lock
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toEqual({ emitted: tree, targets: ['shell'], builtins: ['initrd'] });
    expect(readFileSync(join(tree, 'docker-bake.hcl'), 'utf8')).toContain(
      'target "shell" {\n  context = "."\n  dockerfile = "shell/Dockerfile"\n  network = "none"\n',
    );
    const dockerfile = readFileSync(join(tree, 'shell/Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM .*$/gm)).toEqual([
      'FROM scratch AS base',
      'FROM scratch AS dep-initrd',
      'FROM scratch AS src',
      'FROM base AS build',
      'FROM scratch',
    ]); // nothing from a registry
    expect(dockerfile).not.toMatch(/^# syntax=/m);
    // the engine's own client, no cvm-measure process: the emitted script as a user runs it
    execFileSync('sh', [join(tree, 'build.sh')], {
      env: { PATH: process.env.PATH!, DOCKER: c.kind === 'buildx' ? `${c.docker} buildx` : c.docker },
      stdio: 'ignore',
    });
    const out = mkdtempSync(join(tmpdir(), 'bk-import-'));
    const i = await cli(['build', recipe, '--import', tree, '--out', out, '--json'], { env });
    expect(i.code, i.stderr).toBe(0);
    const j = JSON.parse(i.stdout) as Built & { components: { name: string; cached: boolean }[] };
    expect(j.backend).toBe('buildkit');
    expect(j.components.map((x) => [x.name, x.cached])).toEqual([
      ['initrd', true],
      ['shell', false],
    ]);
    const direct = await build(recipe, 'bwrap', ['--locked']);
    expect(j.artifacts).toEqual(direct.artifacts);
    expect(readFileSync(join(out, 'measurements.json'), 'utf8')).toBe(direct.measurements);
    expect(readFileSync(join(out, 'logs/shell.log'), 'utf8')).toContain('### shell: pack\n');

    for (const f of ['out/shell/report.txt', 'out/initrd/initrd.cpio']) {
      const p = join(tree, f);
      const orig = readFileSync(p);
      writeFileSync(p, Buffer.concat([orig, Buffer.from('x')]));
      const bad = await cli(['build', recipe, '--import', tree, '--out', mkdtempSync(join(tmpdir(), 'bk-import-'))], { env });
      expect(bad.code, f).toBe(1);
      expect(errorLine(bad)).toMatch(
        new RegExp(`^cvm-measure: error: --import: ${p} has sha256 [0-9a-f]{64}, but the locked inputs give [0-9a-f]{64} \\(refused\\)$`),
      );
      writeFileSync(p, orig);
    }
  }, 900_000);

  it('--emit buildkit of a recipe of built-ins only: no target, and --import signs the same measurements as a build', async () => {
    const recipe = resolve(ROOT, 'recipes/uki.yaml');
    const tree = mkdtempSync(join(tmpdir(), 'bk-emit-'));
    const e = await cli(['build', recipe, '--emit', 'buildkit', '--out', tree, '--locked', '--json'], { env });
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ targets: [], builtins: ['firmware', 'kernel', 'initrd', 'cmdline', 'uki'] });
    const b = await build(recipe, 'bwrap', ['--locked']);
    const out = mkdtempSync(join(tmpdir(), 'bk-import-'));
    const i = await cli(['build', recipe, '--import', tree, '--out', out], { env });
    expect(i.code, i.stderr).toBe(0);
    expect(readFileSync(join(out, 'measurements.json'), 'utf8')).toBe(b.measurements);
  }, 600_000);
});

it('pass-through: --cache-from/--cache-to/--builder reach the client as given; the built-in client refuses what needs buildx', async () => {
  const builtin = { docker: '/usr/bin/docker', kind: 'builtin', version: '' } as const;
  const buildx = { ...builtin, kind: 'buildx' } as const;
  const a = { context: '/c', dockerfile: '/c/x/Dockerfile', dest: '/d', noCache: false, cacheFrom: ['type=registry,ref=r/c'], cacheTo: ['type=local,dest=/x'] };
  expect(buildArgs(buildx, { ...a, builder: 'fleet' })).toEqual([
    'buildx',
    'build',
    '--builder',
    'fleet',
    '--progress=plain',
    '--network=none',
    '--pull=false',
    '--cache-from',
    'type=registry,ref=r/c',
    '--cache-to',
    'type=local,dest=/x',
    '--file',
    '/c/x/Dockerfile',
    '--output',
    'type=local,dest=/d',
    '/c',
  ]);
  expect(buildArgs(builtin, { ...a, cacheTo: [], noCache: true }).slice(0, 7)).toEqual([
    'build',
    '--progress=plain',
    '--network=none',
    '--pull=false',
    '--no-cache',
    '--cache-from',
    'type=registry,ref=r/c',
  ]);
  const usage = await cli(['build', resolve(ROOT, 'recipes/cmdline.yaml'), '--cache-from', 'r/c', '--out', mkdtempSync(join(tmpdir(), 'bk-'))], { env });
  expect([usage.code, errorLine(usage)]).toEqual([2, 'cvm-measure: error: --cache-from: only with --backend buildkit']);
  if (typeof client !== 'string' && client.kind === 'builtin') {
    const r = await cli(
      ['build', join(parityDir(), 'parity.yaml'), '--backend', 'buildkit', '--cache-to', 'type=local,dest=/x', '--out', mkdtempSync(join(tmpdir(), 'bk-'))],
      { env },
    );
    expect([r.code, errorLine(r)]).toEqual([
      1,
      `cvm-measure: error: --cache-to: needs docker buildx (${client.docker}'s built-in BuildKit client only has --cache-from)`,
    ]);
  }
});
