/**
 * The types of one `build` (src/build/orchestrate.ts): its options, progress events and result — what
 * the pipeline measures and records (pipeline.ts, provenance.ts) and what `--check` compares (check.ts).
 */
import type { BuildkitOptions } from './buildkit/client.js';
import type { Blob, Cache } from './cache.js';
import type { ResolvedInput } from './inputs/index.js';
import type { LockedBase } from './lock.js';
import type { ComponentSpec, Recipe } from './recipe.js';
import type { RunArgs } from './run-component.js';
import type { BackendPref } from './sandbox/types.js';

/** `buildkit` runs each `run` component as one BuildKit build (src/build/buildkit/); the others run each step in a sandbox. */
export type BuildBackend = BackendPref | 'buildkit';
export const BACKEND_PREFS: readonly BuildBackend[] = ['auto', 'docker', 'podman', 'bwrap', 'chroot', 'buildkit'];

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

export const DEFAULT_VARIATION: Variation = { jobs: 0, umask: 0o022, env: {}, workspaceName: 'work' };

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
