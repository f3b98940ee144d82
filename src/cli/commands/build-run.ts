/** `cvm-measure build`'s run; its declaration is build.ts (the command table loads this file only to run it). */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { runMatrix } from '../../build/matrix.js';
import { BACKEND_PREFS } from '../../build/types.js';
import { runPipeline } from '../../build/pipeline.js';
import { DEFAULT_RECIPE, loadRecipe } from '../../build/recipe.js';
import { UsageError, VerificationError } from '../../errors.js';
import type { BuildkitOptions } from '../../build/buildkit/client.js';
import { emitBuildkit, importHook, readEmitPlan } from '../../build/buildkit/emit.js';
import { parseChoice, parseInteger } from '../options.js';
import { PROGRESS_MODES, printJson, printLine, progress, warn } from '../output.js';
import type { BuildOpts } from './build.js';

/** --builder, --cache-from, --cache-to: only with --backend buildkit (a usage error otherwise). */
function buildkitOptions(backend: string, opts: BuildOpts): BuildkitOptions {
  const given = [opts.builder && '--builder', opts.cacheFrom && '--cache-from', opts.cacheTo && '--cache-to'].filter(Boolean);
  if (given.length > 0 && backend !== 'buildkit') throw new UsageError(`${given.join(', ')}: only with --backend buildkit`);
  return {
    ...(opts.builder ? { builder: opts.builder } : {}),
    ...(opts.cacheFrom ? { cacheFrom: opts.cacheFrom } : {}),
    ...(opts.cacheTo ? { cacheTo: opts.cacheTo } : {}),
  };
}

export async function runBuild(recipeArg: string | undefined, opts: BuildOpts): Promise<void> {
  const backend = parseChoice('--backend', opts.backend, BACKEND_PREFS);
  const jobs = opts.jobs === undefined ? undefined : parseInteger('--jobs', opts.jobs, 1, 1024);
  const recipe = await loadRecipe(recipeArg ?? DEFAULT_RECIPE);
  if (opts.emit !== undefined && opts.import !== undefined) throw new UsageError('--emit and --import: one at a time');
  if ((opts.emit !== undefined || opts.import !== undefined) && (opts.check || opts.rebuild))
    throw new UsageError('--emit/--import: not with --check or --rebuild');
  const p = progress(parseChoice('--progress', opts.progress, PROGRESS_MODES));
  if (opts.emit !== undefined) {
    parseChoice('--emit', opts.emit, ['buildkit']);
    const e = await emitBuildkit(recipe, resolve(opts.out), {
      backend,
      ...(jobs ? { jobs } : {}),
      locked: Boolean(opts.locked),
      notice: warn,
      onProgress: (x) => x.kind === 'step' && p.step(x.text),
    }).finally(() => p.stop());
    if (opts.json) printJson({ emitted: resolve(opts.out), targets: e.targets, builtins: e.builtins });
    else
      printLine(
        `emitted ${e.targets.length} BuildKit target(s) (${e.targets.join(', ') || 'none'}) into ${opts.out}: docker buildx bake -f ${opts.out}/docker-bake.hcl, or sh ${opts.out}/build.sh`,
      );
    return;
  }
  if (opts.parallel !== undefined && opts.matrix === undefined) throw new UsageError('--parallel: only with --matrix');
  if (opts.matrix !== undefined) {
    if (opts.check || opts.import !== undefined) throw new UsageError('--matrix: not with --check or --import');
    const parallel =
      opts.parallel === undefined
        ? Math.max(1, Math.floor(availableParallelism() / (jobs ?? availableParallelism())))
        : parseInteger('--parallel', opts.parallel, 1, 64);
    const m = await runMatrix(recipe, resolve(opts.matrix), {
      out: resolve(opts.out),
      backend,
      ...(jobs ? { jobs } : {}),
      locked: Boolean(opts.locked),
      rebuild: Boolean(opts.rebuild),
      buildkit: buildkitOptions(backend, opts),
      parallel,
      notice: warn,
      onProgress: (e) => (e.kind === 'step' ? p.step(e.text) : p.done(`${e.cached ? 'cached' : 'built '}  ${e.component} (${e.seconds.toFixed(1)} s)`)),
    }).finally(() => p.stop());
    const rows = m.variants.map(({ variant, result }) => ({
      name: variant.name,
      values: variant.values,
      out: result.build.out,
      built: result.build.components.filter((c) => !c.cached).map((c) => c.name),
      cached: result.build.components.filter((c) => c.cached).map((c) => c.name),
      manifest: result.files.manifest.length,
    }));
    if (opts.json) printJson({ index: m.index, parallel, variants: rows });
    else {
      for (const r of rows)
        printLine(`${r.name}: built ${r.built.join(', ') || 'nothing'}; cached ${r.cached.join(', ') || 'nothing'}; ${r.manifest} manifest files in ${r.out}`);
      printLine(`index: ${m.index}`);
    }
    return;
  }
  const plan = opts.import !== undefined ? await readEmitPlan(recipe, resolve(opts.import)) : undefined;
  const t0 = performance.now();
  const r = await runPipeline(recipe, {
    out: opts.out,
    backend,
    ...(plan ? { jobs: plan.jobs } : jobs ? { jobs } : {}),
    locked: Boolean(opts.locked) || plan !== undefined,
    ...(plan ? { hook: importHook(resolve(opts.import!)) } : {}),
    check: Boolean(opts.check),
    rebuild: Boolean(opts.rebuild),
    buildkit: buildkitOptions(backend, opts),
    notice: warn,
    onProgress: (e) => (e.kind === 'step' ? p.step(e.text) : p.done(`${e.cached ? 'cached' : 'built '}  ${e.component} (${e.seconds.toFixed(1)} s)`)),
  }).finally(() => p.stop());
  const seconds = (performance.now() - t0) / 1000;
  if (opts.json) {
    printJson({
      recipe: { name: recipe.name, path: recipe.path, sha256: recipe.sha256 },
      out: r.build.out,
      backend: r.build.backend ?? null,
      seconds: Math.round(seconds * 10) / 10,
      components: r.build.components.map((c) => ({ name: c.name, type: c.type, cached: c.cached, seconds: Math.round(c.seconds * 10) / 10, cacheKey: c.key })),
      artifacts: r.build.artifacts,
      measurements: r.measurements.measurements.map((m) => m.kind),
      files: {
        measurements: r.files.measurements,
        buildRecord: r.files.buildRecord,
        source: r.files.source,
        lock: r.build.lockFile ?? null,
        manifest: r.files.manifest,
      },
      signingKey: r.signingKey ?? null,
      check: r.check ?? null,
    });
  } else {
    for (const a of r.build.artifacts) printLine(`${a.sha256}  ${a.path}`);
    printLine(`measurements: ${r.files.measurements} (${r.measurements.measurements.map((m) => m.kind).join(', ') || 'none'})`);
    printLine(`build record: ${r.files.buildRecord}`);
    if (r.files.manifest.length > 0)
      printLine(`signed manifest: ${r.files.manifest.length} files in ${opts.out}/manifest (key ${r.signingKey!.keyId.slice(0, 16)}…)`);
    if (r.check) printLine(r.check.identical ? `check: both builds identical (${r.build.artifacts.length} outputs)` : 'check: outputs DIFFER');
    printLine(`done in ${seconds.toFixed(1)} s`);
  }
  if (r.check && !r.check.identical) {
    const d = r.check.differences[0]!;
    throw new VerificationError(
      `not reproducible: ${r.check.differences.map((x) => x.artifact).join(', ')} differ; ${d.artifact}: ${d.parts.slice(0, 3).join('; ')}${d.parts.length > 3 ? `; +${d.parts.length - 3} more` : ''}`,
    );
  }
}
