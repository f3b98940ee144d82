/**
 * `build`: pins every input (pin.ts), builds each component in dependency order — a cache hit when its
 * key (spec + input digests + base digest + SOURCE_DATE_EPOCH) was built before; `run` components go
 * through run-component.ts (or BuildKit, or the --emit/--import hook), built-ins through builtin.ts — and
 * publishes the outputs and the lock (outputs.ts). pipeline.ts adds measurements, record, signing.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { BuildError } from '../errors.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { Cache, type Blob } from './cache.js';
import { fetchInput, type ResolvedInput } from './inputs/index.js';
import { BUILD_FILES, componentInputs, type BaseSpec, type ComponentSpec, type Recipe, type SourceRef } from './recipe.js';
import { cachedBase, ensureBase, ensureRootfs } from './base.js';
import { runComponent, stepEnv, type RunArgs } from './run-component.js';
import type { Sandbox } from './sandbox/types.js';
import { readMember } from './inputs/member.js';
import { runBuiltin } from './builtin.js';
import { selectSandbox } from './sandbox/index.js';
import { runComponentBuildkit } from './buildkit/component.js';
import { requireClient } from './buildkit/client.js';
import { Logger } from './logger.js';
import { baseKey, baseOf, fetchContext, pinInputs, type Pins } from './pin.js';
import { publishLock, publishOutputs } from './outputs.js';
import { DEFAULT_VARIATION, type BuildOptions, type BuildResult, type ComponentResult, type ProgressEvent, type Variation } from './types.js';

/** Bumped when the meaning of a component cache key changes. */
const KEY_VERSION = 1;

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Components being built in this process, by cache key: a concurrent build of the same key (a matrix) waits for it. */
const inFlight = new Map<string, Promise<unknown>>();

/**
 * Builds every component of `recipe` in a sandbox (inputs fetched and pinned, content-addressed cache,
 * SOURCE_DATE_EPOCH, fixed environment) and writes the artifacts to `opts.out`. Node only: runs processes.
 * @throws {InputError} when an input does not match its pin, or `opts.locked` and something is unpinned.
 * @throws {BuildError} when a step fails, a declared output is missing, or no sandbox backend works.
 */
export async function build(recipe: Recipe, opts: BuildOptions): Promise<BuildResult> {
  const startedOn = new Date();
  const cache = opts.cache ?? new Cache();
  const v = opts.variation ?? DEFAULT_VARIATION;
  const jobs = v.jobs || opts.jobs || availableParallelism();
  const logDir = opts.logDir ?? join(opts.out, BUILD_FILES.logs);
  await mkdir(logDir, { recursive: true });
  const log = new Logger(join(logDir, 'build.log'));
  const emit = (e: ProgressEvent) => opts.onProgress?.(e);
  await log.line(`recipe ${recipe.path} sha256 ${recipe.sha256} jobs ${jobs} backend ${opts.backend}${opts.locked ? ' --locked' : ''}`);
  if (opts.backend === 'buildkit') await requireClient(opts.buildkit ?? {}); // its pass-through flags are checked before anything is built

  const pins = await pinInputs(recipe, { locked: opts.locked, cache, log, emit });
  const ran = await runComponents(recipe, opts, pins, { cache, v, jobs, logDir, log, emit });
  const artifacts = await publishOutputs(recipe, opts.out, ran.results, cache);
  const bases = [...pins.bases.values()];
  const lockFile = opts.locked || opts.readOnlyLock ? undefined : await publishLock(recipe, opts.out, pins.inputs, bases, log);
  return {
    recipe,
    out: opts.out,
    artifacts,
    components: ran.results,
    inputs: pins.inputs,
    bases,
    ...(ran.backend ? { backend: ran.backend } : {}),
    jobs,
    env: stepEnv(recipe, '<component>', jobs, v.env),
    ...(lockFile ? { lockFile } : {}),
    startedOn,
    finishedOn: new Date(),
  };
}

interface RunContext {
  cache: Cache;
  v: Variation;
  jobs: number;
  logDir: string;
  log: Logger;
  emit: (e: ProgressEvent) => void;
}

/**
 * Step 2: each component in dependency order — a cache hit, else built (sandbox, BuildKit or the
 * --emit/--import hook) and recorded in the cache. Pins a base the lock did not pin when its first
 * component needs it, and re-pins a lock-pinned base the mirror has moved past (not under --locked).
 */
async function runComponents(recipe: Recipe, opts: BuildOptions, pins: Pins, ctx: RunContext): Promise<{ results: ComponentResult[]; backend?: string }> {
  const { cache, v, jobs, logDir, log, emit } = ctx;
  const { inputs, bases, basePins } = pins;
  const fetchCtx = fetchContext(recipe, cache, log);
  const results = new Map<string, ComponentResult>();
  const digestOf = (input: string): string => {
    const spec = recipe.inputs[input]!;
    if (spec.kind !== 'from') return inputs[input]!.sha256;
    return results.get(spec.component)!.outputs[spec.output]!.sha256;
  };
  /** The bytes/path of an input for a component that is actually being built. */
  const ensureInput = async (name: string): Promise<ResolvedInput | Blob> => {
    const spec = recipe.inputs[name]!;
    if (spec.kind === 'from') return results.get(spec.component)!.outputs[spec.output]!;
    inputs[name] = await fetchInput(name, spec, inputs[name], fetchCtx);
    return inputs[name];
  };
  const readSource = async (ref: SourceRef): Promise<Buffer> => {
    const r = await ensureInput(ref.input);
    const what = `input ${ref.input}`;
    if (ref.member === undefined) return cache.readBlob(r.sha256, what);
    return readMember(await cache.verified(r.sha256, what), ref.member, what);
  };

  let sandbox: Sandbox | undefined;
  let usedBuildkit = false;
  let workspace: string | undefined;
  const names = Object.keys(recipe.components);
  /** --emit: components whose outputs only the emitted build makes (run) or that take such outputs (built-in). */
  const pending = new Map<string, ComponentSpec['type']>();
  try {
    for (const [i, name] of names.entries()) {
      const spec = recipe.components[name]!;
      const t0 = performance.now();
      const base = baseOf(recipe, spec);
      let baseSha = base ? basePins.get(baseKey(base)) : undefined;
      /** Unpinned: a base this cache built for the same package set and SOURCE_DATE_EPOCH, else mmdebstrap. */
      const currentBase = (b: BaseSpec): Promise<string> =>
        cachedBase(cache, b, recipe.sourceDateEpoch, log, () =>
          emit({ kind: 'step', text: `[${i + 1}/${names.length}] ${name}: base image ${b.suite}/${b.variant} (mmdebstrap)` }),
        );
      if (base && !baseSha) {
        baseSha = await currentBase(base);
        basePins.set(baseKey(base), baseSha);
        bases.set(baseSha, { suite: base.suite, variant: base.variant, include: base.include, sha256: baseSha });
      }
      const runArgs = async () => {
        workspace ??= await cache.tempDir(v.workspaceName);
        const rootfs = await ensureRootfs(cache, base!, baseSha!, recipe.sourceDateEpoch, log, opts.notice ?? (() => {}));
        return {
          recipe,
          name,
          spec: spec as RunArgs['spec'],
          cache,
          workspace,
          rootfs,
          jobs,
          v,
          logDir,
          log,
          ensureInput,
          emit,
          index: `[${i + 1}/${names.length}]`,
        };
      };
      const waits = componentInputs(spec).flatMap((n) => {
        const s = recipe.inputs[n]!;
        return s.kind === 'from' && pending.has(s.component) ? [s] : [];
      });
      if (opts.hook?.emit && (spec.type === 'run' || waits.length > 0)) {
        const w = waits.find((s) => pending.get(s.component) !== 'run');
        if (w && spec.type === 'run')
          throw new BuildError(
            `--emit buildkit: component ${name} takes ${w.component}.${w.output}, which cvm-measure's own writer makes only after the emitted build; split the recipe in two`,
          );
        if (spec.type === 'run') await opts.hook.run({ ...(await runArgs()), baseSha256: baseSha! });
        pending.set(name, spec.type);
        await log.line(`component ${name}: ${spec.type === 'run' ? 'emitted' : 'left for the import (it takes an emitted output)'}`);
        continue;
      }
      const inputDigests = Object.fromEntries(componentInputs(spec).map((n) => [n, digestOf(n)]));
      const keyFor = (b: string | undefined) =>
        sha256Hex(canonicalJson({ v: KEY_VERSION, spec, inputs: inputDigests, base: b ?? null, sourceDateEpoch: recipe.sourceDateEpoch }));
      let key = keyFor(baseSha);
      let hit = opts.rebuild ? undefined : await cache.getComponent(key);
      if (!hit && base && baseSha && !(await cache.has(baseSha))) {
        // the pinned base is not in this cache: rebuild it. A recipe pin or --locked demands the same
        // digest; a lock pin alone follows the mirror (package updates change the tarball) and is re-pinned.
        const strict = opts.locked || base.sha256 !== undefined;
        if (strict) emit({ kind: 'step', text: `[${i + 1}/${names.length}] ${name}: base image ${base.suite}/${base.variant} (mmdebstrap)` });
        const built = strict ? await ensureBase(cache, base, recipe.sourceDateEpoch, baseSha, log) : await currentBase(base);
        if (built !== baseSha) {
          opts.notice?.(
            `base ${base.suite}/${base.variant}: the mirror moved on since the lock (pinned ${baseSha.slice(0, 12)}…, built ${built.slice(0, 12)}…); re-pinned (--locked refuses this)`,
          );
          await log.line(`base ${base.suite}/${base.variant} re-pinned ${baseSha} -> ${built}`);
          bases.delete(baseSha);
          bases.set(built, { suite: base.suite, variant: base.variant, include: base.include, sha256: built });
          basePins.set(baseKey(base), built);
          baseSha = built;
          key = keyFor(built);
          hit = opts.rebuild ? undefined : await cache.getComponent(key);
        }
      }
      if (!hit && !opts.rebuild && inFlight.has(key)) {
        await log.line(`component ${name}: waiting for the build of key ${key} in progress`);
        await inFlight.get(key)!.catch(() => undefined);
        hit = await cache.getComponent(key);
      }
      let outputs: Record<string, Blob>;
      let finished = () => {};
      const flight = new Promise<void>((r) => (finished = r));
      if (!hit) inFlight.set(key, flight);
      try {
        if (hit) {
          outputs = hit.outputs;
        } else if (spec.type === 'run') {
          emit({ kind: 'step', text: `[${i + 1}/${names.length}] ${name}: preparing` });
          const run = { ...(await runArgs()), spec };
          if (opts.hook) {
            usedBuildkit = true; // imported from an emitted BuildKit build
            outputs = (await opts.hook.run({ ...run, baseSha256: baseSha! }))!;
          } else if (opts.backend === 'buildkit') {
            usedBuildkit = true;
            outputs = await runComponentBuildkit({ ...run, baseSha256: baseSha!, buildkit: opts.buildkit ?? {}, noCache: Boolean(opts.rebuild) });
          } else {
            sandbox ??= await selectSandbox(opts.backend);
            outputs = await runComponent({ ...run, sandbox });
          }
        } else {
          emit({ kind: 'step', text: `[${i + 1}/${names.length}] ${name}: ${spec.type}` });
          const bytes = await runBuiltin(spec, readSource, recipe.sourceDateEpoch);
          outputs = { [spec.output]: await cache.putBytes(bytes) };
        }
        await opts.hook?.check?.(name, outputs);
        if (!hit && !opts.readOnlyLock) await cache.putComponent(key, { outputs });
      } finally {
        if (inFlight.get(key) === flight) inFlight.delete(key);
        finished();
      }
      const seconds = (performance.now() - t0) / 1000;
      results.set(name, { name, type: spec.type, key, cached: Boolean(hit), seconds, outputs });
      await log.line(
        `component ${name} ${hit ? 'cached' : `built in ${seconds.toFixed(1)} s`} key ${key} ${Object.entries(outputs)
          .map(([o, b]) => `${o}=${b.sha256}`)
          .join(' ')}`,
      );
      emit({ kind: 'done', component: name, cached: Boolean(hit), seconds });
    }
  } finally {
    if (workspace) await rm(workspace, { recursive: true, force: true });
  }

  return { results: [...results.values()], ...(sandbox ? { backend: sandbox.name } : usedBuildkit ? { backend: 'buildkit' } : {}) };
}
