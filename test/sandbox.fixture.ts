/**
 * Shared by the sandbox and rootfs tests: a minimal base rootfs (minbase + cpio) built once with
 * mmdebstrap and cached under $CVM_CACHE/test/, and loud skipping when a tool is missing.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { defaultCacheDir } from '../src/build/cache.js';
import { createRootfsTarball, extractRootfs } from '../src/build/rootfs.js';
import { toolMissing } from '../src/build/sandbox/smoke.js';

export const TEST_ROOTFS = { suite: 'bookworm', variant: 'minbase', include: ['cpio'], sourceDateEpoch: 1_700_000_000 };

/** Why the test rootfs cannot be built here (undefined when it can). */
export async function rootfsUnavailable(): Promise<string | undefined> {
  return (await toolMissing('mmdebstrap')) ?? (process.getuid?.() === 0 ? undefined : await toolMissing('newuidmap'));
}

/** The extracted test rootfs: built on first use, then reused from the cache. */
export async function testRootfs(): Promise<{ dir: string; tarball: string; sha256: string }> {
  const key = createHash('sha256').update(JSON.stringify(TEST_ROOTFS)).digest('hex').slice(0, 16);
  const base = join(defaultCacheDir(), 'test', `rootfs-${key}`);
  const tarball = `${base}.tar`;
  if (!existsSync(tarball)) await createRootfsTarball({ ...TEST_ROOTFS, out: tarball });
  const { sha256 } = await extractRootfs(tarball, base);
  return { dir: base, tarball, sha256 };
}

/** `describe` when `reason` is undefined; otherwise a loudly skipped suite naming the reason. */
export function describeIf(reason: string | undefined, name: string, fn: () => void): void {
  if (reason === undefined) {
    describe(name, fn);
  } else {
    process.stderr.write(`\n*** SKIPPED "${name}": ${reason} ***\n`);
    describe.skip(`${name} [SKIPPED: ${reason}]`, fn);
  }
}
