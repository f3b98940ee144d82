/**
 * The build context of a component, shared by `--backend buildkit` and `build --emit buildkit`:
 *   bases/<sha256>.tar            the pinned base tarball
 *   blobs/<sha256>                inputs by content digest
 *   <component>/Dockerfile        see dockerfile.ts
 *   <component>/src/              empty (the /src stage's root)
 *   <component>/root/             build/<component>/{.home/,.step-N.sh}, out/, .cvm-logs/
 * Context files are hard links to verified cache blobs (BuildKit copies the context: no step sees them).
 */
import { link, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { copyFileAtomic } from '../../util/fs.js';
import { dirname, join } from 'node:path';
import type { Cache } from '../cache.js';
import type { ComponentSpec } from '../recipe.js';
import type { TopEntry } from '../sandbox/common.js';
import { componentDockerfile } from './dockerfile.js';

export const baseContextPath = (sha256: string) => `bases/${sha256}.tar`;
export const blobContextPath = (sha256: string) => `blobs/${sha256}`;

/**
 * Places verified blob `sha256` at `rel` under `ctx`: a hard link (kept when it already is one to this
 * blob), else — another filesystem — an atomic copy, so an interrupted copy never stands in for the blob.
 */
export async function placeBlob(cache: Cache, ctx: string, rel: string, sha256: string, what: string): Promise<void> {
  const dest = join(ctx, rel);
  await mkdir(dirname(dest), { recursive: true });
  const src = await cache.verified(sha256, what);
  const blob = await stat(src);
  const linked = async () => {
    const d = await stat(dest).catch(() => undefined);
    return d !== undefined && d.ino === blob.ino && d.dev === blob.dev;
  };
  if (await linked()) return;
  await rm(dest, { force: true });
  try {
    await link(src, dest);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await linked())) return; // placed meanwhile by another build
    await copyFileAtomic(src, dest, 0o444);
  }
}

/**
 * Empties context directory `ctx` for a new build of `component`: its tree is removed (a previous spec's
 * step scripts must not reach the image), and of bases/ and blobs/ only the entries in `keep` stay.
 */
export async function resetContext(ctx: string, component: string, keep: readonly string[]): Promise<void> {
  await rm(join(ctx, component), { recursive: true, force: true });
  const wanted = new Set(keep);
  for (const dir of ['bases', 'blobs']) {
    for (const n of await readdir(join(ctx, dir)).catch(() => [] as string[]))
      if (!wanted.has(`${dir}/${n}`)) await rm(join(ctx, dir, n), { recursive: true, force: true });
  }
}

export interface ComponentContext {
  component: string;
  spec: Extract<ComponentSpec, { type: 'run' }>;
  baseSha256: string;
  top: TopEntry[];
  /** /src entries: `target` relative to /src (input or input/file); a path in the context or a dependency's output file. */
  inputs: ({ target: string; context: string } | { target: string; dep: string; file: string })[];
  env: Record<string, string>;
  umask: number;
}

/** Writes `<component>/` (tree and Dockerfile) into `ctx`; returns the Dockerfile's path. */
export async function writeComponentContext(ctx: string, c: ComponentContext): Promise<string> {
  const dir = join(ctx, c.component);
  const root = join(dir, 'root');
  for (const d of [join(dir, 'src'), join(root, 'build', c.component, '.home'), join(root, 'out'), join(root, '.cvm-logs')])
    await mkdir(d, { recursive: true });
  for (const [i, step] of c.spec.steps.entries()) await writeFile(join(root, 'build', c.component, `.step-${i + 1}.sh`), step.run, { mode: 0o644 });
  const dockerfile = join(dir, 'Dockerfile');
  await writeFile(
    dockerfile,
    componentDockerfile({
      component: c.component,
      baseTar: baseContextPath(c.baseSha256),
      top: c.top,
      inputs: c.inputs.map((i) => ({ ...i, target: `/${i.target}` })),
      tree: c.component,
      steps: c.spec.steps.length,
      env: c.env,
      umask: c.umask,
    }),
  );
  return dockerfile;
}
