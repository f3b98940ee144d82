/**
 * Safe tar extraction (ustar/pax/GNU via tar-stream, optionally gzip-compressed): every member must stay
 * inside the target directory. Refused with a one-line InputError naming the member: absolute paths,
 * `..` components, members below a symlink, hardlinks to anything but an earlier regular file, device
 * nodes and FIFOs, duplicates of non-directories, and symlinks whose target leaves the tree (absolute
 * targets are refused too unless `rooted`: then they mean the tree's own root, as inside a chroot).
 * The extractor never follows a symlink: files are created with O_EXCL, parents are checked first.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lchown, link, lutimes, mkdir, open, readdir, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { InputError } from '../errors.js';
import { linkStaysInside } from '../util/symlinks.js';

export interface ExtractOptions {
  /** Absolute symlink targets refer to the extracted tree's root (a rootfs); otherwise they are refused. */
  rooted?: boolean;
}

export interface ExtractResult {
  /** sha256 of the tarball file as read. */
  sha256: string;
  members: number;
}

/** Member path as a normalized relative path ('' for the archive root), or a reason it is unsafe. */
export function memberPath(name: string): { path: string } | { unsafe: string } {
  if (name.includes('\0')) return { unsafe: 'NUL in the name' };
  if (name.startsWith('/')) return { unsafe: 'absolute path' };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { unsafe: '".." component escapes the extraction directory' };
  return { path: parts.join('/') };
}

const MAGIC_REFUSED: [Buffer, string][] = [
  [Buffer.from('fd377a585a00', 'hex'), 'xz'],
  [Buffer.from('28b52ffd', 'hex'), 'zstd'],
  [Buffer.from('425a68', 'hex'), 'bzip2'],
];

async function head(path: string): Promise<Buffer> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read tarball ${path}: ${e.code ?? String(e)}`);
  });
  try {
    const b = Buffer.alloc(6);
    const { bytesRead } = await fh.read(b, 0, 6, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Extracts `tarball` into `dir`, which must be empty or absent. On error `dir` may hold a partial tree: extract into a temporary directory. */
export async function extractTar(tarball: string, dir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const rooted = opts.rooted ?? false;
  const magic = await head(tarball);
  for (const [m, name] of MAGIC_REFUSED)
    if (magic.subarray(0, m.length).equals(m)) throw new InputError(`tarball ${tarball} is ${name}-compressed; only plain and gzip tarballs are read`);
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new InputError(`extraction directory ${dir} is not empty`);

  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const feeding = pipeline(
    createReadStream(tarball, { highWaterMark: 1 << 20 }),
    tap,
    magic[0] === 0x1f && magic[1] === 0x8b ? createGunzip() : new PassThrough(),
    extract,
  );
  feeding.catch(() => undefined); // surfaced through the iterator below

  const isRoot = process.getuid?.() === 0;
  const kinds = new Map<string, 'dir' | 'file' | 'symlink'>([['', 'dir']]);
  const links = new Map<string, string>();
  const dirMeta: { path: string; mode: number; mtime?: Date }[] = [];
  let members = 0;
  const refuse = (name: string, why: string): never => {
    throw new InputError(`unsafe tar member ${JSON.stringify(name)} in ${tarball}: ${why}`);
  };
  const parentOk = async (name: string, rel: string) => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const k = kinds.get(p);
      if (k === 'symlink') refuse(name, `lies below the symlink ${p}`);
      if (k === 'file') refuse(name, `lies below the file ${p}`);
      if (k === undefined) {
        await mkdir(join(dir, p));
        kinds.set(p, 'dir');
      }
    }
  };

  try {
    for await (const entry of extract) {
      const h = entry.header;
      members++;
      const mp = memberPath(h.name);
      if ('unsafe' in mp) refuse(h.name, mp.unsafe);
      const rel = (mp as { path: string }).path;
      const abs = join(dir, rel);
      const existing = kinds.get(rel);
      if (existing !== undefined && !(existing === 'dir' && h.type === 'directory')) refuse(h.name, 'duplicate member');
      if (rel === '' && h.type !== 'directory') refuse(h.name, 'names the extraction directory itself');
      await parentOk(h.name, rel);
      const mode = (h.mode ?? 0o644) & 0o1777; // setuid/setgid bits are dropped
      switch (h.type) {
        case 'directory':
          if (existing === undefined) await mkdir(abs);
          kinds.set(rel, 'dir');
          dirMeta.push({ path: abs, mode, ...(h.mtime ? { mtime: h.mtime } : {}) });
          break;
        case 'file':
        case 'contiguous-file': {
          const fh = await open(abs, 'wx', 0o600);
          try {
            for await (const chunk of entry) await fh.writeFile(chunk as Buffer);
            await fh.chmod(mode);
          } finally {
            await fh.close();
          }
          kinds.set(rel, 'file');
          if (h.mtime) await utimes(abs, h.mtime, h.mtime);
          break;
        }
        case 'symlink': {
          const target = h.linkname ?? '';
          if (target === '' || target.includes('\0')) refuse(h.name, 'empty symlink target');
          if (target.startsWith('/') && !rooted) refuse(h.name, `symlink to the absolute path ${target}`);
          if (!linkStaysInside(rel, target, links, rooted)) refuse(h.name, `symlink to ${target} points out of the tree`);
          await symlink(target, abs);
          kinds.set(rel, 'symlink');
          links.set(rel, target);
          if (h.mtime) await lutimes(abs, h.mtime, h.mtime);
          break;
        }
        case 'link': {
          const lp = memberPath(h.linkname ?? '');
          if ('unsafe' in lp) refuse(h.name, `hardlink target ${JSON.stringify(h.linkname)}: ${lp.unsafe}`);
          const target = (lp as { path: string }).path;
          if (kinds.get(target) !== 'file') refuse(h.name, `hardlink to ${JSON.stringify(h.linkname)}, which is not an earlier regular file of the archive`);
          await link(join(dir, target), abs);
          kinds.set(rel, 'file');
          break;
        }
        default:
          refuse(h.name, `${h.type} members are not allowed`);
      }
      if (isRoot && h.type !== 'link') await lchown(abs, h.uid ?? 0, h.gid ?? 0);
      entry.resume();
    }
    await feeding;
  } catch (e) {
    extract.destroy();
    await feeding.catch(() => undefined);
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot extract ${tarball}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // A later symlink can change where an earlier one resolves: check every link against the final tree.
  for (const [rel, target] of links) {
    if (!linkStaysInside(rel, target, links, rooted)) refuse(rel, `symlink to ${target} points out of the tree`);
  }
  // Directory modes and times last (children change a directory's mtime; a 0555 parent would block them).
  for (const d of dirMeta.reverse()) {
    await chmod(d.path, d.mode);
    if (d.mtime) await utimes(d.path, d.mtime, d.mtime);
  }
  return { sha256: hash.digest('hex'), members };
}
