/**
 * What a rebuild needs besides the artifacts: `build` writes OUT/source/ with the recipe as it was read,
 * the lock of this build (every input digest and base-image digest, even when the lock beside the recipe
 * could not be written) and each `file:` input stored by its sha256 (`input-<sha256>`). The locked
 * downloads (.debs, source packages, git and URL archives, base tarballs) are content-addressed blobs of
 * the build cache: bundleInputs lists them, so `publish --with-inputs` can carry them too.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Lock } from './lock.js';
import { lockText } from './lock.js';
import type { BuildResult } from './types.js';

/** The directory beside the artifacts (recipe.ts reserves it as an output name through BUILD_FILES). */
export const SOURCE_DIR = 'source';

/** The release file name of an input carried by digest. */
export const inputFile = (sha256: string) => `input-${sha256}`;

/**
 * Writes OUT/source/: recipe, lock, `file:` inputs by digest (replacing an earlier bundle).
 * @throws {InputError} when the recipe file changed since it was read.
 */
export async function writeSourceBundle(r: BuildResult, out: string): Promise<string> {
  const dir = join(out, SOURCE_DIR);
  await rm(dir, { recursive: true, force: true });
  const text = r.recipe.text !== undefined ? Buffer.from(r.recipe.text) : await readFile(r.recipe.path);
  if (createHash('sha256').update(text).digest('hex') !== r.recipe.sha256) throw new InputError(`${r.recipe.path}: changed during the build`);
  const name = /\.ya?ml$/.test(basename(r.recipe.path)) ? basename(r.recipe.path) : `${r.recipe.name}.yaml`;
  await writeFileAtomic(join(dir, name), text);
  await writeFileAtomic(join(dir, `${r.recipe.name}.lock.json`), lockText(r.recipe, r.inputs, r.bases));
  for (const [n, i] of Object.entries(r.inputs)) {
    if (i.kind !== 'file') continue;
    const bytes = await readFile(join(r.recipe.dir, i.ref));
    if (createHash('sha256').update(bytes).digest('hex') !== i.sha256) throw new InputError(`input ${n} (file ${i.ref}): changed during the build`);
    await writeFileAtomic(join(dir, inputFile(i.sha256)), bytes);
  }
  return dir;
}

/** Every content-addressed download a lock pins: non-file inputs (and a source package's files) and base tarballs. */
export function lockedBlobs(lock: Lock): { name: string; sha256: string }[] {
  const out: { name: string; sha256: string }[] = [];
  for (const [name, i] of Object.entries(lock.inputs)) {
    if (i.kind === 'file') continue;
    out.push({ name, sha256: i.sha256 });
    for (const f of i.files?.slice(1) ?? []) out.push({ name: `${name}/${f.name}`, sha256: f.sha256 });
  }
  for (const b of lock.bases) out.push({ name: `base:${b.suite}/${b.variant}`, sha256: b.sha256 });
  return out;
}
