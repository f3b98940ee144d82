/** File I/O used by the CLI and build layers (never by src/measure). Writes are atomic. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** Lock files this process holds (another caller in this process waits for them like any other holder). */
const heldLocks = new Set<string>();

/**
 * Takes the lock file `file`, which holds the taker's pid (written in full before the lock appears); a
 * lock whose holder is dead is taken over. While a live process holds it, `busy(pid)` runs: it throws to
 * give up, or returns to wait 200 ms and try again. Returns the release function.
 */
export async function pidLock(file: string, busy: (pid: number) => void): Promise<() => Promise<void>> {
  const mine = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(mine, String(process.pid));
  try {
    for (;;) {
      try {
        await link(mine, file);
        heldLocks.add(file);
        return async () => {
          heldLocks.delete(file);
          await rm(file, { force: true });
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = Number(await readFile(file, 'utf8').catch(() => '0'));
      let alive = heldLocks.has(file);
      try {
        alive ||= pid > 0 && pid !== process.pid && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (alive) {
        busy(pid);
        await new Promise((r) => setTimeout(r, 200));
      } else await rm(file, { force: true });
    }
  } finally {
    await rm(mine, { force: true });
  }
}
