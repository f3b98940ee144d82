/**
 * Content-addressed cache (`$CVM_CACHE`, else `$XDG_CACHE_HOME/cvm-measure` or `~/.cache/cvm-measure`):
 *   blobs/sha256/<hex>       read-only files named by their sha256 (verified when stored and before use)
 *   components/<key>.json    which output blobs a component produced for a given cache key
 *   bases/<key>.json         the base tarball digest last built for a package set + SOURCE_DATE_EPOCH
 *   debian/<key>.json        a Debian binary package and its source package's files (debian/fetch.ts)
 *   rootfs/<sha256>/         extracted base images (a `.complete` marker is written last)
 *   buildkit-context/        --backend buildkit: one build context per component and base (buildkit/component.ts)
 *   tmp/                     downloads in flight (same filesystem, so publishing is a rename)
 * A file enters blobs/ only after its digest matched: download to tmp, hash, compare, rename.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, copyFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { hashFile, writeFileAtomic } from '../util/fs.js';

export function defaultCacheDir(): string {
  if (process.env.CVM_CACHE) return process.env.CVM_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cvm-measure');
}

/** Small JSON records: component outputs and the base tarball built per package set. */
type JsonKind = 'components' | 'bases' | 'debian';

export interface Blob {
  sha256: string;
  size: number;
}

export interface ComponentRecord {
  /** output file name -> blob */
  outputs: Record<string, Blob>;
}

export class Cache {
  constructor(readonly root: string = defaultCacheDir()) {}

  blobPath(sha256: string): string {
    return join(this.root, 'blobs', 'sha256', sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.blobPath(sha256)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /** A fresh directory under tmp/ (same filesystem as blobs/); the caller removes it. */
  async tempDir(prefix: string): Promise<string> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    return mkdtemp(join(this.root, 'tmp', `${prefix}-`));
  }

  /** A temp path that does not exist yet; with `cleanup` the caller's failure path removes it. */
  async tempPath(prefix: string): Promise<string> {
    await mkdir(join(this.root, 'tmp'), { recursive: true });
    return join(this.root, 'tmp', `${prefix}-${process.pid}-${randomBytes(6).toString('hex')}`);
  }

  /**
   * Moves `file` into blobs/ after checking its sha256 against `expected` (when given). On a mismatch
   * (or any failure) `file` is deleted and nothing is added: the error names `what` and both digests.
   */
  async adopt(file: string, what: string, expected?: string): Promise<Blob> {
    try {
      const { size, digests } = await hashFile(file, ['sha256']);
      const sha256 = digests.sha256!;
      if (expected !== undefined && sha256 !== expected) {
        throw new InputError(`${what}: sha256 mismatch: expected ${expected}, got ${sha256} (refused; nothing cached)`);
      }
      const dest = this.blobPath(sha256);
      await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
      await chmod(file, 0o444);
      await rename(file, dest);
      return { sha256, size };
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Stores bytes (a built-in writer's output) as a blob. */
  async putBytes(data: Uint8Array): Promise<Blob> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (!(await this.has(sha256))) {
      const tmp = await this.tempPath('bytes');
      await writeFileAtomic(tmp, data, 0o444);
      await this.adopt(tmp, 'output', sha256);
    }
    return { sha256, size: data.length };
  }

  /** Removes blob `sha256`, found to hash to `got`, and returns the error that reports it. */
  private async corrupt(sha256: string, got: string | undefined, what: string): Promise<InputError> {
    await rm(this.blobPath(sha256), { force: true });
    return new InputError(`${what}: cached blob ${sha256} is corrupt (sha256 ${got}); removed it, run again to fetch it anew`);
  }

  /** Path of a blob after re-hashing it: a blob altered on disk is deleted and reported. */
  async verified(sha256: string, what: string): Promise<string> {
    const p = this.blobPath(sha256);
    const { digests } = await hashFile(p, ['sha256']);
    if (digests.sha256 !== sha256) throw await this.corrupt(sha256, digests.sha256, what);
    return p;
  }

  async readBlob(sha256: string, what: string): Promise<Buffer> {
    const data = await readFile(this.blobPath(sha256)).catch(() => {
      throw new InputError(`${what}: blob ${sha256} is not in the cache ${this.root}`);
    });
    const got = createHash('sha256').update(data).digest('hex');
    if (got !== sha256) throw await this.corrupt(sha256, got, what);
    return data;
  }

  /**
   * Places a read-only copy of a blob at `dest` (a reflink where the filesystem can), never a hard
   * link: a build step that holds `dest` cannot reach the blob. The copy itself is hashed, so what
   * `dest` holds is the pinned content; a blob found corrupt is deleted and reported.
   */
  async materialize(sha256: string, dest: string, what: string): Promise<void> {
    await rm(dest, { force: true });
    await copyFile(this.blobPath(sha256), dest, fsConstants.COPYFILE_FICLONE | fsConstants.COPYFILE_EXCL).catch((e: NodeJS.ErrnoException) => {
      throw new InputError(`${what}: cannot copy blob ${sha256} from the cache ${this.root}: ${e.code ?? String(e)}`);
    });
    await chmod(dest, 0o444);
    const { digests } = await hashFile(dest, ['sha256']);
    if (digests.sha256 !== sha256) {
      await rm(dest, { force: true });
      throw await this.corrupt(sha256, digests.sha256, what);
    }
  }

  /** A small JSON record under <kind>/<key>.json (undefined when absent or unreadable). */
  async getJson<T>(kind: JsonKind, key: string): Promise<T | undefined> {
    const text = await readFile(join(this.root, kind, `${key}.json`), 'utf8').catch(() => undefined);
    try {
      return text === undefined ? undefined : (JSON.parse(text) as T);
    } catch {
      return undefined;
    }
  }

  async putJson(kind: JsonKind, key: string, value: unknown): Promise<void> {
    await writeFileAtomic(join(this.root, kind, `${key}.json`), `${JSON.stringify(value, null, 2)}\n`);
  }

  /** The recorded outputs for `key` when every output blob is still present. */
  async getComponent(key: string): Promise<ComponentRecord | undefined> {
    const rec = await this.getJson<ComponentRecord>('components', key);
    if (!rec) return undefined;
    for (const b of Object.values(rec.outputs)) if (!(await this.has(b.sha256))) return undefined;
    return rec;
  }

  async putComponent(key: string, rec: ComponentRecord): Promise<void> {
    await this.putJson('components', key, rec);
  }

  rootfsDir(sha256: string): string {
    return join(this.root, 'rootfs', sha256);
  }
}
