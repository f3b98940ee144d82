/**
 * build bench: (1) orchestration overhead — `cvm-measure build --rebuild` of a one-step recipe vs the
 * same step run straight through the sandbox module (same backend, rootfs, binds, env), both whole
 * processes; target ≤ 1.05×. (2) a warm-cache no-op build of the uki recipe (artifacts cached, the
 * measure block recomputed in-process, record rewritten); target ≤ 2 s. Uses the test cache ($CVM_TEST_CACHE or $TMPDIR/cvm-measure-test-cache).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI, type BenchCase } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CACHE = process.env.CVM_TEST_CACHE ?? join(tmpdir(), 'cvm-measure-test-cache');
const BACKEND = process.env.CVM_BENCH_BACKEND ?? 'bwrap';
/** ~2 GB through sha256sum: a few seconds of real work inside the sandbox. */
const STEP = 'head -c 2000000000 /dev/zero | sha256sum > /out/sum.txt';

const DIRECT = `
const [dist, backend, rootfs, work, out, script] = process.argv.slice(1);
const fs = await import('node:fs');
fs.mkdirSync(work, { recursive: true }); fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(work + '/step.sh', script);
const { selectSandbox, sandboxEnv } = await import(dist + '/build/sandbox/index.js');
const sb = await selectSandbox(backend);
const r = await sb.run({ rootfs, binds: [{ source: work, target: '/build/bench', writable: true }, { source: out, target: '/out', writable: true }],
  env: sandboxEnv({ sourceDateEpoch: 1700000000, jobs: 2, home: '/build/bench/.home' }), argv: ['/bin/sh', '-eu', '/build/bench/step.sh'],
  cwd: '/build/bench', umask: 0o022, logFile: work + '/log' });
if (r.exitCode !== 0) throw new Error('step failed');
`;

const NAMES = ['build: 2 GB sha256sum step via direct sandbox.run()', 'build: cvm-measure build --rebuild (same step)', 'build: recipes/uki.yaml warm cache (no-op)'];

export function buildCases(): BenchCase[] {
  const filter = process.argv[2];
  if (filter && !NAMES.some((n) => n.includes(filter))) return []; // skip the (slow) setup builds
  process.env.CVM_CACHE = CACHE; // the harness runs commands with this process's environment
  const env = process.env;
  const dir = mkdtempSync(join(tmpdir(), 'bench-build-'));
  writeFileSync(
    join(dir, 'step.yaml'),
    `name: bench\nsourceDateEpoch: 1700000000\nbase: { suite: bookworm, variant: minbase }\ncomponents:\n  bench:\n    type: run\n    steps: [{ run: "${STEP}" }]\n    outputs: [sum.txt]\n`,
  );
  // setup: pins (and if needed builds) the base rootfs, fills the cache for the uki recipe
  execFileSync(process.execPath, [CLI, 'build', join(dir, 'step.yaml'), '--out', join(dir, 'o'), '--backend', BACKEND], { env, stdio: 'inherit' });
  execFileSync(process.execPath, [CLI, 'build', resolve(ROOT, 'recipes/uki.yaml'), '--locked', '--out', join(dir, 'uki')], { env, stdio: 'inherit' });
  const lock = JSON.parse(readFileSync(join(dir, 'step.lock.json'), 'utf8')) as { bases: { sha256: string }[] };
  const rootfs = join(CACHE, 'rootfs', lock.bases[0]!.sha256);
  const direct = [process.execPath, '--input-type=module', '-e', DIRECT, resolve(ROOT, 'dist'), BACKEND, rootfs, join(dir, 'direct-work'), join(dir, 'direct-out'), STEP];
  return [
    { name: NAMES[0]!, command: direct, runs: 3 },
    {
      name: NAMES[1]!,
      command: [process.execPath, CLI, 'build', join(dir, 'step.yaml'), '--rebuild', '--locked', '--out', join(dir, 'o'), '--backend', BACKEND],
      relativeTo: NAMES[0]!,
      runs: 3,
    },
    { name: NAMES[2]!, command: [process.execPath, CLI, 'build', resolve(ROOT, 'recipes/uki.yaml'), '--locked', '--out', join(dir, 'uki')], runs: 5 },
  ];
}
