import type { Command } from 'commander';
import { examples, jsonOption, progressOption, repeatable } from '../command.js';

export interface BuildOpts {
  out: string;
  backend: string;
  jobs?: string;
  locked?: boolean;
  check?: boolean;
  rebuild?: boolean;
  builder?: string;
  emit?: string;
  matrix?: string;
  parallel?: string;
  import?: string;
  cacheFrom?: string[];
  cacheTo?: string[];
  progress: string;
  json?: boolean;
}

/** The run (build-run.ts), imported only when the command runs: the build stack (execa, yaml, ajv, tar) is most of the CLI. */
export type BuildAction = () => Promise<(recipeArg: string | undefined, opts: BuildOpts) => Promise<void>>;

export function registerBuild(program: Command, run: BuildAction): void {
  const cmd = program
    .command('build')
    .description('build a recipe reproducibly in a sandbox, measure the artifacts and sign the reference values')
    .argument('[recipe]', 'recipe YAML (default: the embedded recipes/default.yaml)')
    .option('--out <dir>', 'output directory (artifacts, measurements.json, build-record.json, manifest/, logs/)', 'out')
    .option('--backend <name>', 'sandbox: auto, docker, podman, bwrap, chroot, or buildkit (each run component one BuildKit build)', 'auto')
    .option('--jobs <n>', 'parallel jobs inside the sandbox (default: the number of CPUs)')
    .option('--locked', 'refuse any input or base image not pinned by the recipe or its lock file; never write the lock')
    .option('--rebuild', 'build every component again instead of reusing cached results (inputs still come from the cache)')
    .option('--check', 'build twice (no cache, varied workspace path, jobs, umask, hostname, locale, time) and compare every output')
    .option('--matrix <file>', 'build every variant of a matrix file (axes of recipe values) into --out/<variant>/, shared components once, plus index.json')
    .option('--parallel <n>', 'matrix variants built at once (default: CPUs / --jobs, at least 1)')
    .option('--emit <kind>', 'buildkit: write the run components as Dockerfiles, docker-bake.hcl and build.sh into --out instead of building')
    .option('--import <dir>', "take the run components' outputs from a tree written by --emit buildkit and built elsewhere (checked against the lock)")
    .option('--builder <name>', 'buildkit: the docker buildx builder to run on (a remote or Kubernetes builder; needs buildx)')
    .addOption(
      repeatable(program, '--cache-from <ref>', 'buildkit: BuildKit cache import, passed to the client as given (the local cache stays the source of truth)'),
    )
    .addOption(repeatable(program, '--cache-to <ref>', 'buildkit: BuildKit cache export, passed to docker buildx as given'))
    .addOption(progressOption(program))
    .addOption(jsonOption(program))
    .action(async (recipeArg: string | undefined, opts: BuildOpts) => (await run())(recipeArg, opts));
  examples(cmd, [
    'cvm-measure build',
    'cvm-measure build recipes/uki.yaml --out out/uki',
    'cvm-measure build recipes/initrd.yaml --check',
    'cvm-measure build my.yaml --locked --backend podman --jobs 2 --json',
    'cvm-measure build recipes/uki.yaml --matrix variants.yaml --parallel 2 --out out/matrix',
    'DOCKER_HOST=ssh://builder cvm-measure build recipes/kernel.yaml --backend buildkit',
    'cvm-measure build recipes/kernel.yaml --emit buildkit --out bk && sh bk/build.sh && cvm-measure build recipes/kernel.yaml --import bk --out out',
  ]);
}
