/**
 * One file out of a .deb (its data.tar, through `dpkg-deb --fsys-tarfile`) or a tar / tar.gz input,
 * read in memory: nothing is extracted to disk, so hostile member names cannot write anywhere.
 * Symlinks inside the archive are followed (at most 8 hops, resolved against the archive root).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import tar from 'tar-stream';
import { InputError } from '../../errors.js';

type Opener = () => Readable;

async function magic(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(8);
    await fh.read(b, 0, 8, 0);
    return b;
  } finally {
    await fh.close();
  }
}

async function opener(path: string, what: string): Promise<Opener> {
  const m = await magic(path);
  if (m.toString('latin1') === '!<arch>\n') {
    return () => execa('dpkg-deb', ['--fsys-tarfile', path], { buffer: false, stdout: 'pipe', stderr: 'ignore' }).stdout as Readable;
  }
  if (m[0] === 0x1f && m[1] === 0x8b) return () => createReadStream(path).pipe(createGunzip());
  const ustar = Buffer.alloc(5);
  const fh = await open(path, 'r');
  try {
    await fh.read(ustar, 0, 5, 257);
  } finally {
    await fh.close();
  }
  if (ustar.toString('latin1') === 'ustar') return () => createReadStream(path);
  throw new InputError(`${what}: member: needs a .deb, tar or tar.gz input`);
}

function normalize(name: string): string {
  return posix.normalize(`/${name}`).slice(1);
}

type Found = { kind: 'file'; data: Buffer } | { kind: 'symlink'; target: string } | undefined;

async function scan(open: Opener, member: string): Promise<Found> {
  const extract = tar.extract();
  let found: Found;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const hit = normalize(header.name) === member;
      if (hit && header.type === 'symlink') found = { kind: 'symlink', target: header.linkname ?? '' };
      if (hit && header.type === 'file') {
        const chunks: Buffer[] = [];
        stream.on('data', (c) => chunks.push(c as Buffer));
        stream.on('end', () => {
          found = { kind: 'file', data: Buffer.concat(chunks) };
          next();
        });
        return;
      }
      stream.on('end', () => next());
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  const src = open();
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract);
  await done;
  return found;
}

/** The bytes of `member` inside archive `path`; `what` names the input in errors. */
export async function readMember(path: string, member: string, what: string): Promise<Buffer> {
  const open = await opener(path, what);
  let name = normalize(member);
  for (let hop = 0; hop < 8; hop++) {
    const f = await scan(open, name).catch((e: unknown) => {
      throw new InputError(`${what}: cannot read archive: ${e instanceof Error ? e.message : String(e)}`);
    });
    if (!f) throw new InputError(`${what}: no member ${member} in the archive`);
    if (f.kind === 'file') return f.data;
    // an absolute or `..` target resolves inside the archive root (normalize clamps at /)
    name = normalize(f.target.startsWith('/') ? f.target : posix.join(posix.dirname(`/${name}`), f.target));
  }
  throw new InputError(`${what}: member ${member}: too many symlink hops`);
}

/** One entry of an archive listing (directories are left out). */
export type ArchiveEntry =
  | { path: string; kind: 'file'; mode: number; data: Buffer }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'other' };

/** Most bytes listArchive keeps in memory (a binary package's files; Debian's ovmf holds 25 MiB). */
export const MAX_LISTED_BYTES = 512 << 20;

/**
 * Every file and symlink of archive `path` (a .deb's data.tar, a tar or tar.gz), read in memory with
 * names normalized inside the archive root; more than MAX_LISTED_BYTES is refused.
 */
export async function listArchive(path: string, what: string): Promise<ArchiveEntry[]> {
  const src = (await opener(path, what))();
  const extract = tar.extract();
  const out: ArchiveEntry[] = [];
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const name = normalize(header.name);
      if (header.type === 'file') {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk) => {
          const c = chunk as Buffer;
          total += c.length;
          if (total > MAX_LISTED_BYTES) extract.destroy(new InputError(`${what}: more than ${MAX_LISTED_BYTES >> 20} MiB of files`));
          else chunks.push(c);
        });
        stream.on('end', () => {
          out.push({ path: name, kind: 'file', mode: header.mode ?? 0, data: Buffer.concat(chunks) });
          next();
        });
        return;
      }
      if (header.type === 'symlink') out.push({ path: name, kind: 'symlink', target: header.linkname ?? '' });
      else if (header.type !== 'directory') out.push({ path: name, kind: 'other' });
      stream.on('end', () => next());
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract);
  await done.catch((e: unknown) => {
    throw e instanceof InputError ? e : new InputError(`${what}: cannot read archive: ${e instanceof Error ? e.message : String(e)}`);
  });
  return out.filter((e) => e.path !== '');
}
