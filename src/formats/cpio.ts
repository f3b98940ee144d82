/**
 * cpio "newc" archives (the SVR4 "070701" format the Linux initramfs uses; kernel
 * Documentation/driver-api/early-userspace/buffer-format.rst). A deterministic writer (sorted names,
 * clamped mtimes, uid/gid 0, sequential inode numbers, no device numbers) and a reader that refuses
 * members which would escape the extraction root.
 */
import { FormatError } from '../errors.js';
import { compareBytes, concatAll, latin1, latin1Bytes, utf8, utf8Text } from '../util/bytes.js';
import { linkStaysInside } from '../util/symlinks.js';

const WHAT = 'cpio archive';
/** buffer-format.rst: 6-byte magic + 13 eight-digit hex fields = 110 bytes; name and data 4-byte padded. */
const HEADER_SIZE = 110;
const MAGIC_NEWC = '070701';
const MAGIC_CRC = '070702';
const TRAILER = 'TRAILER!!!';
/** POSIX <sys/stat.h> file type bits. */
const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export type CpioEntryType = 'file' | 'dir' | 'symlink';

export interface CpioEntry {
  /** Relative path with '/' separators, no leading "./" or "/". */
  path: string;
  type: CpioEntryType;
  /** Permission bits (0o7777). */
  mode: number;
  /** File content, or the symlink target as bytes. */
  data?: Uint8Array;
  /** Symlink target (alternative to data). */
  target?: string;
  /** Seconds since the epoch; the writer clamps it to `mtime` (SOURCE_DATE_EPOCH). */
  mtime?: number;
}

export interface CpioWriteOptions {
  /** Upper bound for every member's mtime (SOURCE_DATE_EPOCH); default 0. */
  mtime?: number;
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function typeBits(t: CpioEntryType): number {
  return t === 'dir' ? S_IFDIR : t === 'symlink' ? S_IFLNK : S_IFREG;
}

function normalise(path: string): string {
  const p = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (p === '' || p.startsWith('/') || p.split('/').some((c) => c === '..' || c === '.' || c === '')) {
    throw new FormatError(WHAT, `member path ${JSON.stringify(path)} is not a clean relative path`);
  }
  return p;
}

function header(fields: number[], nameLength: number): Uint8Array {
  const all = [...fields, nameLength, 0];
  return latin1Bytes(MAGIC_NEWC + all.map((v) => (v >>> 0).toString(16).toUpperCase().padStart(8, '0')).join(''));
}

/**
 * Writes a newc archive: members sorted by path (bytewise), inode numbers 1.., uid/gid 0, mtime clamped.
 * @throws FormatError for a duplicate path or a symlink without a target.
 */
export function writeCpio(entries: readonly CpioEntry[], opts: CpioWriteOptions = {}): Uint8Array {
  const clamp = opts.mtime ?? 0;
  const items = entries.map((e) => ({ ...e, path: normalise(e.path) }));
  items.sort((a, b) => compareBytes(utf8(a.path), utf8(b.path)));
  for (let i = 1; i < items.length; i++) if (items[i]!.path === items[i - 1]!.path) throw new FormatError(WHAT, `duplicate member ${items[i]!.path}`);
  const parts: Uint8Array[] = [];
  const push = (fields: number[], name: string, data: Uint8Array) => {
    const nameBytes = utf8(`${name}\0`);
    parts.push(header(fields, nameBytes.length), nameBytes, new Uint8Array(pad4(HEADER_SIZE + nameBytes.length)));
    if (data.length > 0) parts.push(data, new Uint8Array(pad4(data.length)));
  };
  items.forEach((e, i) => {
    const data = e.type === 'dir' ? new Uint8Array(0) : e.type === 'symlink' ? (e.data ?? utf8(e.target ?? '')) : (e.data ?? new Uint8Array(0));
    if (e.type === 'symlink' && data.length === 0) throw new FormatError(WHAT, `symlink ${e.path} has no target`);
    const mtime = Math.min(e.mtime ?? clamp, clamp);
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor
    push([i + 1, typeBits(e.type) | (e.mode & 0o7777), 0, 0, e.type === 'dir' ? 2 : 1, mtime, data.length, 0, 0, 0, 0], e.path, data);
  });
  push([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], TRAILER, new Uint8Array(0));
  return concatAll(parts);
}

export interface CpioMember extends CpioEntry {
  data: Uint8Array;
  uid: number;
  gid: number;
  mtime: number;
}

const outside = (path: string, target: string) => new FormatError(WHAT, `symlink ${JSON.stringify(path)} -> ${JSON.stringify(target)} points outside the tree`);

/**
 * Reads an uncompressed newc archive (gzip-compressed input is a FormatError: decompress it first, in
 * Node with gunzipIfGzip from util/gzip.ts). Refuses, with a FormatError naming the member:
 * absolute paths, ".." components, symlinks pointing outside the tree (absolute or climbing above the
 * root), members beneath a symlink, device nodes, FIFOs and sockets, and truncated or overlong fields.
 * Concatenated archives (as initrds often are) are read in sequence.
 * @throws FormatError naming the member or offset that breaks one of these rules.
 */
export function readCpio(archive: Uint8Array): CpioMember[] {
  if (archive[0] === 0x1f && archive[1] === 0x8b) throw new FormatError(WHAT, 'gzip-compressed: decompress it first (this parser reads newc bytes only)');
  const out: CpioMember[] = [];
  const links = new Map<string, string>();
  const seen = new Set<string>();
  let o = 0;
  while (o < archive.length) {
    if (archive[o] === 0) {
      o += 1; // zero padding between concatenated archives
      continue;
    }
    if (o + HEADER_SIZE > archive.length) throw new FormatError(WHAT, `truncated header at 0x${o.toString(16)}`);
    const magic = latin1(archive.subarray(o, o + 6));
    if (magic !== MAGIC_NEWC && magic !== MAGIC_CRC)
      throw new FormatError(WHAT, `bad magic ${JSON.stringify(magic)} at 0x${o.toString(16)} (only newc "070701"/"070702")`);
    const f: number[] = [];
    for (let i = 0; i < 13; i++) {
      const s = latin1(archive.subarray(o + 6 + i * 8, o + 14 + i * 8));
      if (!/^[0-9a-fA-F]{8}$/.test(s)) throw new FormatError(WHAT, `header at 0x${o.toString(16)} field ${i} is not hex: ${JSON.stringify(s)}`);
      f.push(parseInt(s, 16));
    }
    const [, mode, uid, gid, , mtime, filesize, , , , , namesize] = f as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const nameAt = o + HEADER_SIZE;
    if (namesize < 1 || namesize > 4096 || nameAt + namesize > archive.length)
      throw new FormatError(WHAT, `member at 0x${o.toString(16)}: name size ${namesize} is invalid or runs past the end`);
    const rawName = utf8Text(archive.subarray(nameAt, nameAt + namesize - 1));
    const dataAt = nameAt + namesize + pad4(HEADER_SIZE + namesize);
    if (dataAt + filesize > archive.length)
      throw new FormatError(WHAT, `member ${JSON.stringify(rawName)}: ${filesize} bytes of data run past the end of the archive`);
    o = dataAt + filesize + pad4(filesize);
    if (rawName === TRAILER) continue;
    if (rawName === '.' || rawName === './') continue;
    if (rawName.startsWith('/')) throw new FormatError(WHAT, `member ${JSON.stringify(rawName)} has an absolute path`);
    const path = rawName.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    if (path.split('/').some((c) => c === '..')) throw new FormatError(WHAT, `member ${JSON.stringify(rawName)} climbs out of the tree with ".."`);
    if (path.split('/').some((c) => c === '' || c === '.')) throw new FormatError(WHAT, `member ${JSON.stringify(rawName)} is not a clean relative path`);
    const comps = path.split('/');
    for (let i = 1; i < comps.length; i++) {
      const parent = comps.slice(0, i).join('/');
      if (links.has(parent)) throw new FormatError(WHAT, `member ${JSON.stringify(rawName)} lies beneath symlink ${parent}`);
    }
    const fmt = mode & S_IFMT;
    const type: CpioEntryType | undefined = fmt === S_IFDIR ? 'dir' : fmt === S_IFREG ? 'file' : fmt === S_IFLNK ? 'symlink' : undefined;
    if (!type)
      throw new FormatError(
        WHAT,
        `member ${JSON.stringify(rawName)} has file type 0o${(fmt >> 12).toString(8)} (only files, directories and symlinks are accepted)`,
      );
    const data = archive.subarray(dataAt, dataAt + filesize);
    const m: CpioMember = { path, type, mode: mode & 0o7777, data, uid, gid, mtime };
    if (type === 'symlink') {
      const target = utf8Text(data);
      m.target = target;
      links.set(path, target);
    } else if (seen.has(path) && links.has(path)) {
      throw new FormatError(WHAT, `member ${JSON.stringify(rawName)} would be written through a symlink`);
    }
    seen.add(path);
    out.push(m);
  }
  // A later symlink can change where an earlier one resolves (sub/esc -> up/.. after sub/up -> ..):
  // check every link against the whole tree, as the tar reader does.
  for (const [path, target] of links) if (!linkStaysInside(path, target, links, false)) throw outside(path, target);
  return out;
}
