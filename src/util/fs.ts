/** File I/O used by the CLI and build layers (never by src/measure). Writes are atomic. */
import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, readFileSync } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** Creates `path` (which must not exist) with `data` and fsyncs it. */
async function writeSynced(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs a directory, so the renames in it are durable. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces `path` atomically: `write` fills a temporary file in the same directory, then rename.
 * On any failure the temporary file is removed and `path` is untouched.
 */
async function replaceAtomic(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await write(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` to `path` atomically (fsynced temporary file, rename); on failure `path` is untouched. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await replaceAtomic(path, (tmp) => writeSynced(tmp, data, mode));
}

/** Copies `src` to `dest` atomically (fsynced temporary copy with `mode`, rename); on failure `dest` is untouched. */
export async function copyFileAtomic(src: string, dest: string, mode = 0o644): Promise<void> {
  await replaceAtomic(dest, async (tmp) => {
    await copyFile(src, tmp, constants.COPYFILE_EXCL);
    const fh = await open(tmp, 'r+');
    try {
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/** Test hook: with CVM_TEST_PAUSE_MS set, waits that long between the steps of a multi-file write, so a test's kill -9 lands inside it. */
export async function testPause(): Promise<void> {
  const ms = Number(process.env.CVM_TEST_PAUSE_MS ?? 0);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/** Whether process `pid` runs (a process of another user counts as running). */
export function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    return process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface SetFile {
  name: string;
  data: string | Uint8Array;
  mode?: number;
}

/** Staging directories beside a target: `.<target name>.<pid>.<random>.partial` while written, `.ready` once every file is synced, `.old` for a replaced directory. */
const STAGE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.(partial|ready|old)$/;

/** Writes and syncs every file into a fresh staging directory beside `target`; returns it, renamed to `.ready`. */
async function stage(target: string, files: readonly SetFile[]): Promise<string> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true });
  const base = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  await mkdir(`${base}.partial`);
  for (const f of files) {
    await writeSynced(join(`${base}.partial`, f.name), f.data, f.mode ?? 0o644);
    await testPause();
  }
  await syncDir(`${base}.partial`);
  await rename(`${base}.partial`, `${base}.ready`);
  return `${base}.ready`;
}

/**
 * What a killed writer left beside `target` (staging directories of processes that no longer run):
 * a complete (`.ready`) set is handed to `finish`, then every such directory is removed.
 */
async function recover(target: string, finish: (ready: string) => Promise<void>): Promise<void> {
  const dir = dirname(target);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    const m = STAGE.exec(n);
    if (!m || m[1] !== basename(target) || processAlive(Number(m[2]))) continue;
    if (m[3] === 'ready') await finish(join(dir, n));
    await rm(join(dir, n), { recursive: true, force: true });
  }
}

const missing = (path: string) =>
  stat(path).then(
    () => false,
    () => true,
  );

/**
 * Replaces directory `target` as a unit with exactly `files`: they are written into a staging directory
 * beside it, which is renamed into place (the old directory is renamed away first and removed after).
 * A reader sees the old set or the new one, never a mix. A kill -9 can leave `target` absent for the
 * instant between the two renames; the next write to `target` finishes or discards whatever a killed
 * writer left (a complete set is renamed into place when `target` is absent, anything else is removed).
 */
export async function writeDirAtomic(target: string, files: readonly SetFile[]): Promise<void> {
  const install = async (ready: string) => {
    if (await missing(target)) await rename(ready, target);
  };
  await recover(target, install);
  const ready = await stage(target, files);
  const old = ready.replace(/\.ready$/, '.old');
  const replaced = await rename(target, old).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return false;
      throw e;
    },
  );
  await testPause();
  await install(ready);
  await syncDir(dirname(target));
  if (replaced) await rm(old, { recursive: true, force: true });
}

/**
 * Writes files that belong together (a key pair) into directory `dir`, the last one being the commit
 * point: all are staged and synced first, then the existing last file is removed, the others are renamed
 * into place, and the last one last. So whenever the last file exists, the others beside it are from the
 * same set. A kill -9 can leave the others without the last; the next write of the same set finishes it
 * (the staged files are complete) or discards an unfinished staging directory.
 */
export async function writeFileSetAtomic(dir: string, files: readonly SetFile[]): Promise<void> {
  const commit = join(dir, files[files.length - 1]!.name);
  const install = async (ready: string) => {
    const staged = await readdir(ready);
    if (!staged.includes(basename(commit))) return; // committed already
    if (!(await missing(commit))) return; // never started: the old set is whole
    for (const n of staged.filter((n) => n !== basename(commit))) await rename(join(ready, n), join(dir, n));
    await rename(join(ready, basename(commit)), commit);
  };
  await recover(commit, install);
  const ready = await stage(commit, files);
  await rm(commit, { force: true });
  await testPause();
  await install(ready);
  await syncDir(dir);
  await rm(ready, { recursive: true, force: true });
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
      // a holder another user runs (EPERM) is alive too: its lock is not ours to break
      if (heldLocks.has(file) || (pid !== process.pid && processAlive(pid))) {
        busy(pid);
        await new Promise((r) => setTimeout(r, 200));
      } else await rm(file, { force: true });
    }
  } finally {
    await rm(mine, { force: true });
  }
}
