/** File I/O used by the CLI and build layers (never by src/measure). Writes are atomic. */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { InputError } from '../errors.js';

/** Reads a whole input file; a missing or unreadable file is a one-line InputError. */
export async function readInput(path: string, what = 'input'): Promise<Buffer> {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** Streams a file through one or more hashes at once; returns lowercase hex digests by algorithm and the size. */
export async function hashFile(path: string, algs: readonly string[] = ['sha256']): Promise<{ size: number; digests: Record<string, string> }> {
  const hs = algs.map((a) => createHash(a));
  let size = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      size += (chunk as Buffer).length;
      for (const h of hs) h.update(chunk as Buffer);
    }
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return { size, digests: Object.fromEntries(algs.map((a, i) => [a, hs[i]!.digest('hex')])) };
}

/**
 * Writes `data` to `path` atomically: a temporary file in the same directory, fsync, rename.
 * On any failure the temporary file is removed and `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
