/** cpio newc: deterministic writer and a reader that refuses members escaping the tree. */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { readCpio, writeCpio, type CpioEntry } from '../src/formats/cpio.js';
import { gunzipIfGzip } from '../src/util/gzip.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';

/** A hand-made newc member (to build hostile archives the writer refuses to produce). */
function member(name: string, mode: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const nb = Buffer.from(`${name}\0`);
  const f = [1, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nb.length, 0].map((v) => v.toString(16).padStart(8, '0')).join('');
  const head = Buffer.concat([Buffer.from(`070701${f}`), nb]);
  return Buffer.concat([head, Buffer.alloc((4 - (head.length % 4)) % 4), data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
}
const trailer = () => member('TRAILER!!!', 0);

describe('cpio newc writer', () => {
  const entries: CpioEntry[] = [
    { path: 'usr/bin/tool', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n'), mtime: 1_800_000_000 },
    { path: 'usr', type: 'dir', mode: 0o755 },
    { path: 'usr/bin', type: 'dir', mode: 0o755 },
    { path: 'etc', type: 'dir', mode: 0o755 },
    { path: 'etc/hostname', type: 'file', mode: 0o644, data: Buffer.from('guest\n'), mtime: 5 },
    { path: 'bin', type: 'symlink', mode: 0o777, target: 'usr/bin' },
  ];

  it('is deterministic and independent of input order; members sorted, uid/gid 0, mtime clamped, no device numbers', () => {
    const a = Buffer.from(writeCpio(entries, { mtime: 1000 }));
    const b = writeCpio([...entries].reverse(), { mtime: 1000 });
    expect(Buffer.compare(a, b)).toBe(0);
    const back = readCpio(a);
    expect(back.map((m) => m.path)).toEqual(['bin', 'etc', 'etc/hostname', 'usr', 'usr/bin', 'usr/bin/tool']);
    expect(back.every((m) => m.uid === 0 && m.gid === 0)).toBe(true);
    expect(back.find((m) => m.path === 'usr/bin/tool')!.mtime).toBe(1000);
    expect(back.find((m) => m.path === 'etc/hostname')!.mtime).toBe(5);
    expect(back.find((m) => m.path === 'bin')!.target).toBe('usr/bin');
    expect(Buffer.from(back.find((m) => m.path === 'usr/bin/tool')!.data).toString()).toBe('#!/bin/sh\necho hi\n');
    // header fields 7-10 (dev/rdev major/minor) are zero for every member; the archive is 4-byte aligned
    for (let o = a.indexOf('070701'); o >= 0; o = a.indexOf('070701', o + 1)) expect(a.toString('latin1', o + 6 + 7 * 8, o + 6 + 11 * 8)).toBe('0'.repeat(32));
    expect(a.length % 4).toBe(0);
    expect(a.subarray(a.length - 124).toString('latin1')).toContain('TRAILER!!!');
  });

  it('refuses unclean paths and duplicates', () => {
    expect(() => writeCpio([{ path: '../x', type: 'file', mode: 0o644 }])).toThrow(FormatError);
    expect(() => writeCpio([{ path: '/etc/x', type: 'file', mode: 0o644 }])).toThrow(/not a clean relative path/);
    expect(() =>
      writeCpio([
        { path: 'a', type: 'dir', mode: 0o755 },
        { path: './a', type: 'dir', mode: 0o755 },
      ]),
    ).toThrow(/duplicate member a/);
  });
});

describe('cpio reader refuses hostile members', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['"../" member', Buffer.concat([member('../etc/passwd', 0o100644, Buffer.from('x')), trailer()]), /climbs out of the tree/],
    ['nested ".." member', Buffer.concat([member('a/../../b', 0o100644), trailer()]), /climbs out of the tree/],
    ['absolute path', Buffer.concat([member('/etc/shadow', 0o100644), trailer()]), /absolute path/],
    ['absolute symlink', Buffer.concat([member('lib', 0o120777, Buffer.from('/lib')), trailer()]), /points outside the tree/],
    ['symlink climbing out', Buffer.concat([member('a', 0o040755), member('a/up', 0o120777, Buffer.from('../../etc')), trailer()]), /points outside the tree/],
    ['member beneath a symlink', Buffer.concat([member('d', 0o120777, Buffer.from('e')), member('d/x', 0o100644), trailer()]), /beneath symlink d/],
    ['file written through a symlink', Buffer.concat([member('f', 0o120777, Buffer.from('g')), member('f', 0o100644), trailer()]), /through a symlink/],
    ['device node', Buffer.concat([member('dev/sda', 0o060600), trailer()]), /file type/],
    ['data past the end', member('big', 0o100644, Buffer.alloc(16)).subarray(0, 130), /run past the end/],
    ['bad magic', Buffer.from('070707' + '0'.repeat(200)), /bad magic/],
    ['non-hex header', Buffer.from('070701' + 'zz'.repeat(60)), /not hex/],
  ];
  for (const [name, archive, re] of cases) {
    it(name, () => {
      let err: unknown;
      try {
        readCpio(archive);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('accepts symlinks that stay inside, and gzip-compressed archives', () => {
    const ok = Buffer.concat([member('a', 0o040755), member('a/b', 0o120777, Buffer.from('../c')), member('c', 0o100644, Buffer.from('hi')), trailer()]);
    expect(readCpio(ok).map((m) => m.path)).toEqual(['a', 'a/b', 'c']);
    expect(readCpio(gunzipIfGzip(gzipSync(ok), 'cpio archive')).map((m) => m.path)).toEqual(['a', 'a/b', 'c']);
    expect(() => readCpio(gzipSync(ok))).toThrow(/cpio archive: gzip-compressed: decompress it first/);
  });
});

describeShared("cpio reader on the real boots' initrds (GNU cpio --reproducible)", () => {
  it("reads initrd-a.cpio (the direct boot's initrd): init and busybox; rewriting it with our writer is stable", () => {
    const V = loadVectors<{ vectors: { inputs: { initrd?: { file: string; sha256: string } } }[] }>('pcr');
    const bytes = readFileSync(shared('fixtures', 'pcr/initrd-a.cpio'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(V.vectors[0]!.inputs.initrd!.sha256);
    const members = readCpio(bytes);
    expect(members.map((m) => m.path)).toEqual(expect.arrayContaining(['init', 'bin/busybox']));
    expect(members.every((m) => m.uid === 0 && m.mtime === 0)).toBe(true);
    const rewritten = writeCpio(members);
    expect(Buffer.compare(writeCpio(readCpio(rewritten)), rewritten)).toBe(0);
  });

  it('reads the gzip-compressed tiny initrd fixture', () => {
    expect(readCpio(gunzipIfGzip(readFileSync(shared('fixtures', 'tiny-initrd.cpio.gz')), 'initrd')).length).toBeGreaterThan(0);
  });
});
