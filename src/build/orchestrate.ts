/**
 * `build`: pins every input (recipe, lock, or by fetching it), builds each component in dependency
 * order — a cache hit when its key (spec + input digests + base digest + SOURCE_DATE_EPOCH) was built
 * before; `run` components go through run-component.ts, built-ins through builtin.ts — and publishes
 * the outputs into the output directory and the lock. pipeline.ts adds measurements, record, signing.
 */
import { createHash } from 'node:crypto';
import { appendFile, chmod, copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { BuildError, InputError } from '../errors.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { hashFile } from '../util/fs.js';
import { Cache, type Blob } from './cache.js';
import { fetchInput, hashLocal, inputRef, type ResolvedInput } from './inputs/index.js';
import { lockedBase, lockedInput, lockPath, lockText, readLock, writeLock, type LockedBase } from './lock.js';
import { BUILD_FILES, componentInputs, componentOutputs, outLockName, type BaseSpec, type ComponentSpec, type Recipe, type SourceRef } from './recipe.js';
import { cachedBase, ensureBase, ensureRootfs } from './base.js';
import { runComponent, stepEnv, type RunArgs } from './run-component.js';
import type { BackendPref, Sandbox } from './sandbox/types.js';
import { readMember } from './inputs/member.js';
import { runBuiltin } from './builtin.js';
import { selectSandbox } from './sandbox/index.js';
import { runComponentBuildkit } from './buildkit/component.js';
import { requireClient, type BuildkitOptions } from './buildkit/client.js';

/** `buildkit` runs each `run` component as one BuildKit build (src/build/buildkit/); the others run each step in a sandbox. */
export type BuildBackend = BackendPref | 'buildkit';
export const BACKEND_PREFS: readonly BuildBackend[] = ['auto', 'docker', 'podman', 'bwrap', 'chroot', 'buildkit'];

/** Bumped when the meaning of a component cache key changes. */
const KEY_VERSION = 1;

/** What `build --check` varies between its two builds (the first build uses the defaults). */
export interface Variation {
  jobs: number;
  umask: number;
  hostname?: string;
  /** Extra environment inside the sandbox (locale variables the fixed LC_ALL must override). */
  env: Record<string, string>;
  /** Workspace directory name: a different length and path on the host. */
  workspaceName: string;
}

export interface BuildOptions {
  out: string;
  backend: BuildBackend;
  /** --backend buildkit: builder and registry-cache pass-through. */
  buildkit?: BuildkitOptions;
  jobs?: number;
  locked: boolean;
  cache?: Cache;
  /** Rebuild every component (no cache reads); used by --check. */
  rebuild?: boolean;
  variation?: Variation;
  /** Where build.log and the per-component logs go (default: <out>/logs). */
  logDir?: string;
  /** Do not write the lock file or component records (the second build of --check). */
  readOnlyLock?: boolean;
  onProgress?: (event: ProgressEvent) => void;
  /** `--emit buildkit` / `--import` (src/build/buildkit/emit.ts): what replaces running a `run` component. */
  hook?: ComponentHook;
  /** Things the user should know (a re-pinned base); the CLI prints them as warnings. */
  notice?: (line: string) => void;
}

export interface ComponentHook {
  /** Emit: every `run` component goes to `run` and its outputs stay unknown; built-ins taking them are left out. */
  emit: boolean;
  run(a: Omit<RunArgs, 'sandbox'> & { baseSha256: string }): Promise<Record<string, Blob> | undefined>;
  /** Sees each component's outputs (built, cached or imported) before anything uses them. */
  check?(name: string, outputs: Record<string, Blob>): Promise<void>;
}

export type ProgressEvent = { kind: 'step'; text: string } | { kind: 'done'; component: string; cached: boolean; seconds: number };

export interface Artifact {
  /** component.output */
  name: string;
  /** relative to the output directory */
  path: string;
  size: number;
  sha256: string;
  sha384: string;
}

export interface ComponentResult {
  name: string;
  type: ComponentSpec['type'];
  key: string;
  cached: boolean;
  seconds: number;
  outputs: Record<string, Blob>;
}

export interface BuildResult {
  recipe: Recipe;
  out: string;
  artifacts: Artifact[];
  components: ComponentResult[];
  /** Every non-`from` input, pinned. */
  inputs: Record<string, ResolvedInput>;
  bases: LockedBase[];
  backend?: string;
  jobs: number;
  env: Record<string, string>;
  lockFile?: string;
  startedOn: Date;
  finishedOn: Date;
}

export const DEFAULT_VARIATION: Variation = { jobs: 0, umask: 0o022, env: {}, workspaceName: 'work' };

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Components being built in this process, by cache key: a concurrent build of the same key (a matrix) waits for it. */
const inFlight = new Map<string, Promise<unknown>>();

/** Appends timestamped lines to build.log. */
export class Logger {
  constructor(readonly file: string) {}
  async line(text: string): Promise<void> {
    await appendFile(this.file, `${new Date().toISOString()} ${text}\n`);
  }
}

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

  // 1. pins: recipe sha256, else a matching lock entry, else (not --locked) fetch to learn the digest
  const lock = await readLock(recipe);
  const inputs: Record<string, ResolvedInput> = {};
  const unpinned: string[] = [];
  for (const [name, spec] of Object.entries(recipe.inputs)) {
    if (spec.kind === 'from') continue;
    const ref = inputRef(spec);
    const locked = lockedInput(lock, name, spec.kind, ref);
    if (spec.kind === 'file') {
      const { sha256 } = await hashLocal(spec, recipe.dir, name);
      const want = spec.sha256 ?? locked?.sha256;
      if (spec.sha256 && sha256 !== spec.sha256)
        throw new InputError(`input ${name} (file ${ref}): sha256 mismatch: recipe pins ${spec.sha256}, file has ${sha256}`);
      if (opts.locked && want !== sha256) {
        throw new InputError(`--locked: input ${name} (file ${ref}) ${want ? `changed since the lock (${want} -> ${sha256})` : 'is not in the lock'}`);
      }
      inputs[name] = { kind: 'file', ref, sha256 };
      continue;
    }
    if (spec.sha256 && locked && locked.sha256 !== spec.sha256) await log.line(`input ${name}: recipe pin ${spec.sha256} overrides lock ${locked.sha256}`);
    if (spec.sha256 || locked) {
      inputs[name] = locked && (!spec.sha256 || locked.sha256 === spec.sha256) ? locked : { kind: spec.kind, ref, sha256: spec.sha256! };
    } else unpinned.push(name);
  }
  const bases = new Map<string, LockedBase>();
  const baseOf = (c: ComponentSpec): BaseSpec | undefined => (c.type === 'run' ? (c.base ?? recipe.base) : undefined);
  const baseKey = (b: BaseSpec) => `${b.suite} ${b.variant} ${b.include.join(',')}`;
  const basePins = new Map<string, string>();
  const unpinnedBases: BaseSpec[] = [];
  for (const c of Object.values(recipe.components)) {
    const b = baseOf(c);
    if (!b) continue;
    const sha = lockedBase(lock, b);
    if (sha) {
      basePins.set(baseKey(b), sha);
      bases.set(sha, { suite: b.suite, variant: b.variant, include: b.include, sha256: sha });
    } else unpinnedBases.push(b);
  }
  if (opts.locked && (unpinned.length > 0 || unpinnedBases.length > 0)) {
    const what = [...unpinned.map((n) => `input ${n}`), ...unpinnedBases.map((b) => `base ${b.suite}/${b.variant}`)];
    throw new InputError(`--locked: not pinned by the recipe or ${lockPath(recipe)}: ${what.join(', ')}`);
  }
  const fetchCtx = { cache, recipeDir: recipe.dir, log: (l: string) => void log.line(l) };
  for (const name of unpinned) {
    const spec = recipe.inputs[name] as Exclude<Recipe['inputs'][string], { kind: 'from' }>;
    emit({ kind: 'step', text: `fetch ${name} (${inputRef(spec)})` });
    inputs[name] = await fetchInput(name, spec, undefined, fetchCtx);
    await log.line(`pinned input ${name} ${inputs[name].sha256}`);
  }

  // 2. components in dependency order
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
    return inputs[name]!;
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
      const base = baseOf(spec);
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

  // 3. publish outputs (atomic per file) and the lock
  const artifacts: Artifact[] = [];
  for (const r of results.values()) {
    for (const output of componentOutputs(recipe.components[r.name]!)) {
      const blob = r.outputs[output]!;
      const dest = join(opts.out, output);
      const tmp = join(opts.out, `.${output}.${process.pid}.tmp`);
      await copyFile(await cache.verified(blob.sha256, `${r.name}.${output}`), tmp);
      await chmod(tmp, 0o644);
      await rename(tmp, dest);
      const { size, digests } = await hashFile(dest, ['sha256', 'sha384']);
      artifacts.push({ name: `${r.name}.${output}`, path: output, size, sha256: digests.sha256!, sha384: digests.sha384! });
    }
  }
  const basesList = [...bases.values()];
  let lockFile: string | undefined;
  if (!opts.locked && !opts.readOnlyLock) {
    const text = lockText(recipe, inputs, basesList);
    lockFile = lockPath(recipe);
    try {
      if (await writeLock(lockFile, text)) await log.line(`wrote ${lockFile}`);
    } catch {
      // the embedded recipe inside an installed package: keep the lock with the outputs instead
      lockFile = join(opts.out, outLockName(recipe.name));
      await writeLock(lockFile, text);
      await log.line(`recipe directory not writable; wrote ${lockFile}`);
    }
  }
  const env = stepEnv(recipe, '<component>', jobs, v.env);
  return {
    recipe,
    out: opts.out,
    artifacts,
    components: [...results.values()],
    inputs,
    bases: basesList,
    ...(sandbox ? { backend: sandbox.name } : usedBuildkit ? { backend: 'buildkit' } : {}),
    jobs,
    env,
    ...(lockFile ? { lockFile } : {}),
    startedOn,
    finishedOn: new Date(),
  };
}
