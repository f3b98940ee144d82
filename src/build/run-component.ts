/**
 * A `run` component: its steps as `/bin/sh -eu` scripts in the sandbox (src/build/sandbox/) with the base
 * rootfs read-only, its inputs read-only at /src/<input>, /build/<component> (cwd) and /out writable;
 * then every declared output, which must be a regular file in /out with no other name, is adopted into the cache.
 */
import { appendFile, lstat, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildError } from '../errors.js';
import type { Blob, Cache } from './cache.js';
import type { ResolvedInput } from './inputs/index.js';
import type { Logger } from './logger.js';
import type { ProgressEvent, Variation } from './types.js';
import type { ComponentSpec, Recipe } from './recipe.js';
import { sandboxEnv } from './sandbox/env.js';
import type { Sandbox } from './sandbox/types.js';

/** The complete, fixed environment of a sandboxed step of `component`. */
export function stepEnv(recipe: Recipe, component: string, jobs: number, extra: Record<string, string>): Record<string, string> {
  return sandboxEnv({ sourceDateEpoch: recipe.sourceDateEpoch, jobs, home: `/build/${component}/.home`, extra });
}

export interface RunArgs {
  recipe: Recipe;
  name: string;
  spec: Extract<ComponentSpec, { type: 'run' }>;
  cache: Cache;
  sandbox: Sandbox;
  workspace: string;
  rootfs: string;
  jobs: number;
  v: Variation;
  logDir: string;
  log: Logger;
  ensureInput: (name: string) => Promise<ResolvedInput | Blob>;
  emit: (e: ProgressEvent) => void;
  index: string;
}

/** Runs a component's steps in the sandbox: /src/<input> read-only, /build/<name> and /out writable. */
export async function runComponent(a: RunArgs): Promise<Record<string, Blob>> {
  const { cache, name, spec, workspace } = a;
  const srcDir = join(workspace, 'src', name);
  const buildDir = join(workspace, 'build', name);
  const outDir = join(workspace, 'out', name);
  for (const d of [srcDir, join(buildDir, '.home'), outDir]) await mkdir(d, { recursive: true });
  for (const input of spec.inputs) {
    const r = await a.ensureInput(input);
    const files = 'files' in r && r.files ? r.files : undefined;
    if (files) {
      await mkdir(join(srcDir, input));
      for (const f of files) await cache.materialize(f.sha256, join(srcDir, input, f.name), `input ${input}`);
    } else await cache.materialize(r.sha256, join(srcDir, input), `input ${input}`);
  }
  const logFile = join(a.logDir, `${name}.log`);
  await writeFile(logFile, '');
  const env = stepEnv(a.recipe, name, a.jobs, { ...spec.env, ...a.v.env });
  for (const [i, step] of spec.steps.entries()) {
    const label = step.name ?? `step ${i + 1}`;
    a.emit({ kind: 'step', text: `${a.index} ${name}: ${label} (${a.sandbox.name}, -j${a.jobs})` });
    const script = join(buildDir, `.step-${i + 1}.sh`);
    await writeFile(script, step.run, { mode: 0o644 });
    await appendFile(logFile, `### ${name}: ${label}\n`);
    await a.log.line(`run ${name} ${label} in ${a.sandbox.name}`);
    const { exitCode } = await a.sandbox.run({
      rootfs: a.rootfs,
      binds: [
        { source: srcDir, target: '/src', writable: false },
        { source: buildDir, target: `/build/${name}`, writable: true },
        { source: outDir, target: '/out', writable: true },
      ],
      env,
      argv: ['/bin/sh', '-eu', `/build/${name}/.step-${i + 1}.sh`],
      cwd: `/build/${name}`,
      umask: a.v.umask,
      logFile,
      ...(a.v.hostname ? { hostname: a.v.hostname } : {}),
    });
    if (exitCode !== 0) throw new BuildError(`component ${name}: ${label} failed (exit ${exitCode}); log: ${logFile}`);
  }
  return adoptOutputs(cache, name, spec.outputs, outDir, logFile);
}

/** Adopts every declared output, which must be a regular file with one name in `outDir`, into the cache. */
export async function adoptOutputs(cache: Cache, name: string, declared: string[], outDir: string, logFile: string): Promise<Record<string, Blob>> {
  const outputs: Record<string, Blob> = {};
  for (const o of declared) {
    const p = join(outDir, o);
    const st = await lstat(p).catch(() => undefined);
    const bad = !st ? 'missing' : !st.isFile() ? 'not a regular file' : st.nlink !== 1 ? `a hard link (${st.nlink} names)` : undefined;
    if (bad) throw new BuildError(`component ${name}: declared output ${o} is ${bad} in /out after the last step; log: ${logFile}`);
    outputs[o] = await cache.adopt(p, `${name}.${o}`);
  }
  return outputs;
}
