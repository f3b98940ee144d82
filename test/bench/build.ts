/**
 * build bench: (1) orchestration overhead — `cvm-measure build --rebuild` of a one-step recipe vs the
 * same step run straight through the sandbox module (same backend, rootfs, binds, env), both whole
 * processes; target ≤ 1.05×; the same pair with an empty step gives the fixed cost in ms. (2) a warm-cache no-op build of the uki recipe (artifacts cached, the
 * measure block recomputed in-process, record rewritten); target ≤ 2 s. Uses the test cache ($CVM_TEST_CACHE or $TMPDIR/cvm-measure-test-cache).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI, type BenchCase } from './harness.js';
import { findClient } from '../../src/build/buildkit/client.js';

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

const NAMES = [
  'build: 2 GB sha256sum step via direct sandbox.run()',
  'build: cvm-measure build --rebuild (same step)',
  'build: empty step via direct sandbox.run() (fixed cost)',
  'build: cvm-measure build --rebuild (empty step)',
  'build: recipes/uki.yaml warm cache (no-op)',
  'build: buildkit: docker build of the emitted Dockerfile (same step, no cache)',
  'build: buildkit: cvm-measure build --rebuild --backend buildkit (same step)',
];

const stepRecipe = (run: string) =>
  `name: bench\nsourceDateEpoch: 1700000000\nbase: { suite: bookworm, variant: minbase }\ncomponents:\n  bench:\n    type: run\n    steps: [{ run: "${run}" }]\n    outputs: [sum.txt]\n`;
const EMPTY = 'echo > /out/sum.txt';

/**
 * The BuildKit pair: the 2 GB step's Dockerfile written by `build --emit buildkit`, built straight by the
 * engine's client (`docker build --no-cache`, what a fleet runs) vs the same step through `--backend
 * buildkit --rebuild` (context assembly, the build, output adoption, measure and record).
 */
async function buildkitCases(dir: string, env: NodeJS.ProcessEnv): Promise<BenchCase[]> {
  const client = await findClient();
  if (typeof client === 'string') {
    process.stderr.write(`bench: buildkit cases skipped: ${client}\n`);
    return [];
  }
  execFileSync(process.execPath, [CLI, 'build', join(dir, 'step.yaml'), '--emit', 'buildkit', '--out', join(dir, 'emitted')], { env, stdio: 'inherit' });
  if (client.kind === 'builtin') process.env.DOCKER_BUILDKIT = '1';
  const sub = client.kind === 'buildx' ? ['buildx', 'build'] : ['build'];
  const emitted = join(dir, 'emitted');
  return [
    {
      name: NAMES[5]!,
      command: [
        client.docker,
        ...sub,
        '--quiet',
        '--no-cache',
        '--network=none',
        '--file',
        join(emitted, 'bench/Dockerfile'),
        '--output',
        `type=local,dest=${join(dir, 'bk-direct')}`,
        emitted,
      ],
      runs: 3,
    },
    {
      name: NAMES[6]!,
      command: [CLI, 'build', join(dir, 'step.yaml'), '--rebuild', '--locked', '--out', join(dir, 'bk'), '--backend', 'buildkit'],
      relativeTo: NAMES[5]!,
      runs: 3,
    },
  ];
}

export async function buildCases(): Promise<BenchCase[]> {
  const filter = process.argv[2];
  if (filter && !NAMES.some((n) => n.includes(filter))) return []; // skip the (slow) setup builds
  process.env.CVM_CACHE = CACHE; // the harness runs commands with this process's environment
  const env = process.env;
  const dir = mkdtempSync(join(tmpdir(), 'bench-build-'));
  writeFileSync(join(dir, 'step.yaml'), stepRecipe(STEP));
  writeFileSync(join(dir, 'empty.yaml'), stepRecipe(EMPTY));
  // setup: pins (and if needed builds) the base rootfs, fills the cache for the uki recipe
  execFileSync(process.execPath, [CLI, 'build', join(dir, 'step.yaml'), '--out', join(dir, 'o'), '--backend', BACKEND], { env, stdio: 'inherit' });
  execFileSync(process.execPath, [CLI, 'build', join(dir, 'empty.yaml'), '--out', join(dir, 'e'), '--backend', BACKEND], { env, stdio: 'inherit' });
  execFileSync(process.execPath, [CLI, 'build', resolve(ROOT, 'recipes/uki.yaml'), '--locked', '--out', join(dir, 'uki')], { env, stdio: 'inherit' });
  const lock = JSON.parse(readFileSync(join(dir, 'step.lock.json'), 'utf8')) as { bases: { sha256: string }[] };
  const rootfs = join(CACHE, 'rootfs', lock.bases[0]!.sha256);
  const direct = (script: string) => [
    process.execPath,
    '--input-type=module',
    '-e',
    DIRECT,
    resolve(ROOT, 'dist'),
    BACKEND,
    rootfs,
    join(dir, 'direct-work'),
    join(dir, 'direct-out'),
    script,
  ];
  const build = (recipe: string, out: string) => [CLI, 'build', join(dir, recipe), '--rebuild', '--locked', '--out', join(dir, out), '--backend', BACKEND];
  return [
    ...(await buildkitCases(dir, env)),
    { name: NAMES[0]!, command: direct(STEP), runs: 5 },
    { name: NAMES[1]!, command: build('step.yaml', 'o'), relativeTo: NAMES[0]!, runs: 5 },
    { name: NAMES[2]!, command: direct(EMPTY), runs: 11 },
    { name: NAMES[3]!, command: build('empty.yaml', 'e'), relativeTo: NAMES[2]!, runs: 11 },
    { name: NAMES[4]!, command: [CLI, 'build', resolve(ROOT, 'recipes/uki.yaml'), '--locked', '--out', join(dir, 'uki')], runs: 5 },
  ];
}
