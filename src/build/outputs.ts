/**
 * Step 3 of `build` (orchestrate.ts): publish each declared output from the cache into the output
 * directory (atomic per file) and write the lock — beside the recipe, or beside the outputs when the
 * recipe's directory is not writable (the recipe embedded in an installed package).
 */
import { join } from 'node:path';
import { copyFileAtomic, hashFile } from '../util/fs.js';
import type { Cache } from './cache.js';
import type { ResolvedInput } from './inputs/index.js';
import { lockPath, lockText, writeLock, type LockedBase } from './lock.js';
import type { Logger } from './logger.js';
import { componentOutputs, outLockName, type Recipe } from './recipe.js';
import type { Artifact, ComponentResult } from './types.js';

/** Copies every component's declared outputs to `out` and hashes the copies (sha256, sha384). */
export async function publishOutputs(recipe: Recipe, out: string, results: Iterable<ComponentResult>, cache: Cache): Promise<Artifact[]> {
  const artifacts: Artifact[] = [];
  for (const r of results) {
    for (const output of componentOutputs(recipe.components[r.name]!)) {
      const dest = join(out, output);
      await copyFileAtomic(await cache.verified(r.outputs[output]!.sha256, `${r.name}.${output}`), dest);
      const { size, digests } = await hashFile(dest, ['sha256', 'sha384']);
      artifacts.push({ name: `${r.name}.${output}`, path: output, size, sha256: digests.sha256!, sha384: digests.sha384! });
    }
  }
  return artifacts;
}

/** Writes the lock of what this build pinned (unchanged content is not rewritten); returns its path. */
export async function publishLock(recipe: Recipe, out: string, inputs: Record<string, ResolvedInput>, bases: LockedBase[], log: Logger): Promise<string> {
  const text = lockText(recipe, inputs, bases);
  const file = lockPath(recipe);
  try {
    if (await writeLock(file, text)) await log.line(`wrote ${file}`);
    return file;
  } catch {
    const beside = join(out, outLockName(recipe.name));
    await writeLock(beside, text);
    await log.line(`recipe directory not writable; wrote ${beside}`);
    return beside;
  }
}
