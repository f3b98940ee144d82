/**
 * Base images of `run` components: the mmdebstrap tarball (src/build/rootfs.ts) adopted into the cache
 * under its sha256, and its safe extraction into $CVM_CACHE/rootfs/<sha256>/ (once per digest).
 */
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../sign/canonical-json.js';
import type { Cache } from './cache.js';
import type { Logger } from './logger.js';
import type { BaseSpec } from './recipe.js';
import { createRootfsTarball, extractRootfs } from './rootfs.js';

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

/**
 * The base tarball this cache last built for the same package set and SOURCE_DATE_EPOCH (unpinned),
 * else a fresh mmdebstrap run (`building` is called first) recorded for the next time.
 */
export async function cachedBase(cache: Cache, b: BaseSpec, sourceDateEpoch: number, log: Logger, building: () => void): Promise<string> {
  const indexKey = createHash('sha256')
    .update(canonicalJson({ ...b, sha256: undefined, sourceDateEpoch }))
    .digest('hex');
  const known = await cache.getJson<{ sha256: string }>('bases', indexKey);
  if (known && (await cache.has(known.sha256))) {
    await log.line(`base ${b.suite}/${b.variant}: reusing cached ${known.sha256}`);
    return known.sha256;
  }
  building();
  const sha = await ensureBase(cache, b, sourceDateEpoch, undefined, log);
  await cache.putJson('bases', indexKey, { sha256: sha });
  return sha;
}

/**
 * The extracted base rootfs for tarball `sha256`, checked against the manifest recorded at its
 * extraction before each use: extracted (safely, into the cache) when missing, and again, with a
 * notice, when its tree was altered since.
 */
export async function ensureRootfs(
  cache: Cache,
  base: BaseSpec,
  sha256: string,
  sourceDateEpoch: number,
  log: Logger,
  notice: (line: string) => void,
): Promise<string> {
  const dir = cache.rootfsDir(sha256);
  await ensureBase(cache, base, sourceDateEpoch, sha256, log);
  const r = await extractRootfs(cache.blobPath(sha256), dir, sha256);
  if (r.altered) {
    const line = `base rootfs ${dir} was altered since its extraction (${r.altered}); extracted it again from the pinned tarball`;
    notice(line);
    await log.line(line);
  } else if (r.extracted) await log.line(`extracted base ${sha256} into ${dir}`);
  return dir;
}
