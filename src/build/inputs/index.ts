/**
 * Pinned inputs: what each input kind resolves to (a sha256, plus the files of a Debian source
 * package) and how it is fetched into the content-addressed cache. A download that does not match its
 * pin is refused and leaves nothing in the cache.
 */
import { createHash } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, readFile, realpath, rm } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { BuildError, InputError } from '../../errors.js';
import { download } from '../../util/download.js';
import { hashFile } from '../../util/fs.js';
import type { Cache } from '../cache.js';
import type { InputSpec } from '../recipe.js';
import { aptDownload, aptSourceDownload, dscFiles } from './apt.js';
import { execa } from 'execa';

export interface PinnedFile {
  name: string;
  sha256: string;
  size: number;
}

/** A fetched (or fetchable) input: `sha256` is the pin; Debian sources also list the .dsc's files. */
export interface ResolvedInput {
  kind: Exclude<InputSpec['kind'], 'from'>;
  /** What the recipe asked for: a path, URL, name=version or repo@commit. */
  ref: string;
  sha256: string;
  /** debian-source: the .dsc (first) and every file it lists. */
  files?: PinnedFile[];
}

/** The text that identifies an input's request (a lock entry is reused only when it matches). */
export function inputRef(spec: Exclude<InputSpec, { kind: 'from' }>): string {
  switch (spec.kind) {
    case 'file':
      return spec.file;
    case 'url':
      return spec.url;
    case 'debian-binary':
    case 'debian-source':
      return `${spec.package}=${spec.version}`;
    case 'git':
      return `${spec.git}@${spec.commit}`;
  }
}

/** Package URL (purl) of an input, for the provenance's resolvedDependencies; no host is named. */
export function inputUri(r: ResolvedInput): string | undefined {
  if (r.kind === 'debian-binary' || r.kind === 'debian-source') {
    const i = r.ref.indexOf('=');
    const arch = r.kind === 'debian-source' ? 'source' : 'amd64';
    return `pkg:deb/debian/${r.ref.slice(0, i)}@${encodeURIComponent(r.ref.slice(i + 1))}?arch=${arch}`;
  }
  if (r.kind === 'url') return r.ref;
  if (r.kind === 'git') return `git+${r.ref}`;
  return undefined;
}

export interface FetchContext {
  cache: Cache;
  recipeDir: string;
  log: (line: string) => void;
}

/** The largest `file:` input read: a recipe naming something huge is refused before it is read. */
export const MAX_FILE_INPUT = 4 * 1024 ** 3;

/**
 * Hashes a local `file:` input (its pin is its content) and, with `copyTo`, copies it there in the same
 * pass. The path, symlinks resolved, must lie inside the recipe's directory, and must name a regular
 * file of at most MAX_FILE_INPUT bytes (a device or FIFO is refused without being read).
 */
export async function hashLocal(spec: Extract<InputSpec, { kind: 'file' }>, recipeDir: string, name: string, copyTo?: string): Promise<{ sha256: string }> {
  const what = `input ${name} (file ${spec.file})`;
  const failed = (e: NodeJS.ErrnoException) => new InputError(`${what}: cannot read it: ${e.code ?? String(e)}`);
  const root = await realpath(recipeDir).catch((e: NodeJS.ErrnoException) => {
    throw failed(e);
  });
  const path = await realpath(resolve(root, spec.file)).catch((e: NodeJS.ErrnoException) => {
    throw failed(e);
  });
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep))
    throw new InputError(`${what}: resolves to ${path}, outside the recipe's directory ${root} (file: inputs must lie inside it)`);
  const regular = (st: Stats) => {
    if (!st.isFile()) throw new InputError(`${what}: ${path} is not a regular file`);
    if (st.size > MAX_FILE_INPUT) throw new InputError(`${what}: ${path} has ${st.size} bytes, more than the ${MAX_FILE_INPUT} a file: input may have`);
  };
  regular(await lstat(path));
  // O_NONBLOCK: a FIFO swapped in after the check above is opened without waiting, then refused by fstat
  const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    throw failed(e);
  });
  let out: FileHandle | undefined;
  try {
    regular(await fh.stat());
    if (copyTo !== undefined) out = await open(copyTo, 'wx', 0o600);
    const h = createHash('sha256');
    const buf = Buffer.alloc(1 << 20);
    let total = 0;
    for (let n = (await fh.read(buf)).bytesRead; n > 0; n = (await fh.read(buf)).bytesRead) {
      total += n;
      if (total > MAX_FILE_INPUT) throw new InputError(`${what}: ${path} grew past the ${MAX_FILE_INPUT} bytes a file: input may have`);
      h.update(buf.subarray(0, n));
      await out?.write(buf.subarray(0, n));
    }
    return { sha256: h.digest('hex') };
  } finally {
    await fh.close();
    await out?.close();
  }
}

/**
 * Makes sure input `name` is in the cache and matches `pin` (when known); returns the resolved pin.
 * Anything fetched goes to a temp path first and is adopted only if its digest matches.
 */
export async function fetchInput(
  name: string,
  spec: Exclude<InputSpec, { kind: 'from' }>,
  pin: ResolvedInput | undefined,
  ctx: FetchContext,
): Promise<ResolvedInput> {
  const { cache } = ctx;
  const what = `input ${name} (${spec.kind} ${inputRef(spec)})`;
  const ref = inputRef(spec);
  const expected = pin?.sha256 ?? spec.sha256;
  const done = async (sha256: string, files?: PinnedFile[]): Promise<ResolvedInput> => ({ kind: spec.kind, ref, sha256, ...(files ? { files } : {}) });
  if (spec.kind !== 'debian-source' && expected && (await cache.has(expected))) return done(expected);
  if (spec.kind === 'debian-source' && expected && pin?.files && (await Promise.all(pin.files.map((f) => cache.has(f.sha256)))).every(Boolean)) {
    return done(expected, pin.files);
  }
  switch (spec.kind) {
    case 'file': {
      const tmp = await cache.tempPath('file');
      try {
        const local = await hashLocal(spec, ctx.recipeDir, name, tmp);
        if (expected && local.sha256 !== expected)
          throw new InputError(`${what}: sha256 mismatch: expected ${expected}, got ${local.sha256} (refused; nothing cached)`);
        return done((await cache.adopt(tmp, what, local.sha256)).sha256);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    case 'url': {
      ctx.log(`fetch ${spec.url}`);
      const tmp = await cache.tempPath('url');
      try {
        await download(spec.url, tmp, what);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
      return done((await cache.adopt(tmp, what, expected)).sha256);
    }
    case 'debian-binary': {
      ctx.log(`apt-get download ${ref}`);
      const dir = await cache.tempDir('deb');
      try {
        const deb = await aptDownload(spec.package, spec.version, dir);
        return done((await cache.adopt(deb, what, expected)).sha256);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    case 'debian-source': {
      ctx.log(`apt-get source --download-only ${ref}`);
      const dir = await cache.tempDir('src');
      try {
        const dscPath = await aptSourceDownload(spec.package, spec.version, dir, join(cache.root, 'apt'));
        const listed = dscFiles(await readFile(dscPath, 'utf8'));
        // check everything before adopting anything, so a mismatch leaves the cache untouched
        const dsc = (await hashFile(dscPath, ['sha256'])).digests.sha256!;
        if (expected && dsc !== expected) throw new InputError(`${what}: sha256 mismatch: expected ${expected}, got ${dsc} (refused; nothing cached)`);
        const files: PinnedFile[] = [{ name: basename(dscPath), sha256: dsc, size: 0 }, ...listed];
        for (const f of files) Object.assign(f, await cache.adopt(join(dir, f.name), `${what} file ${f.name}`, f.sha256));
        return done(dsc, files);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    case 'git': {
      ctx.log(`git archive ${ref}`);
      const dir = await cache.tempDir('git');
      try {
        const git = (args: string[]) => execa('git', args, { cwd: dir, reject: false, all: true, env: { GIT_TERMINAL_PROMPT: '0' } });
        const repo = /^[a-z]+:\/\//.test(spec.git) ? spec.git : resolve(ctx.recipeDir, spec.git);
        for (const args of [
          ['init', '-q', '--bare', '.'],
          ['fetch', '-q', '--depth', '1', repo, spec.commit],
        ]) {
          const r = await git(args);
          if (r.exitCode !== 0) throw new InputError(`${what}: git ${args[0]} failed: ${(r.all ?? '').trim().split('\n').slice(-1)[0]}`);
        }
        const tarPath = join(dir, 'archive.tar');
        const r = await execa('git', ['archive', '--format=tar', `--prefix=${name}/`, '-o', tarPath, spec.commit], { cwd: dir, reject: false, all: true });
        if (r.exitCode !== 0) throw new BuildError(`${what}: git archive failed: ${(r.all ?? '').trim()}`);
        return done((await cache.adopt(tarPath, what, expected)).sha256);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  }
}
