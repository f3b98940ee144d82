/**
 * Base images of `run` components: the mmdebstrap tarball (src/build/rootfs.ts) adopted into the cache
 * under its sha256, and its safe extraction into $CVM_CACHE/rootfs/<sha256>/ (once per digest).
 */
import { rm } from 'node:fs/promises';
import type { Cache } from './cache.js';
import type { Logger } from './orchestrate.js';
import type { BaseSpec } from './recipe.js';
import { createRootfsTarball, extractRootfs, rootfsOrigin } from './rootfs.js';

/** Builds the base tarball with mmdebstrap (reproducible) unless cached; returns its sha256 after checking `pin`. */
export async function ensureBase(cache: Cache, base: BaseSpec, sourceDateEpoch: number, pin: string | undefined, log: Logger): Promise<string> {
  if (pin && (await cache.has(pin))) return pin;
  const out = `${await cache.tempPath('rootfs')}.tar`;
  await log.line(`mmdebstrap ${base.suite} ${base.variant} include=${base.include.join(',')}`);
  try {
    await createRootfsTarball({ suite: base.suite, variant: base.variant, include: base.include, sourceDateEpoch, out });
    return (await cache.adopt(out, `base ${base.suite}/${base.variant}`, pin)).sha256;
  } finally {
    await rm(out, { force: true });
  }
}

/** The extracted base rootfs for tarball `sha256` (extracted once, safely, into the cache). */
export async function ensureRootfs(cache: Cache, base: BaseSpec, sha256: string, sourceDateEpoch: number, log: Logger): Promise<string> {
  const dir = cache.rootfsDir(sha256);
  if ((await rootfsOrigin(dir).catch(() => undefined))?.sha256 === sha256) return dir;
  await ensureBase(cache, base, sourceDateEpoch, sha256, log);
  await log.line(`extracting base ${sha256} into ${dir}`);
  await extractRootfs(cache.blobPath(sha256), dir, sha256);
  return dir;
}
