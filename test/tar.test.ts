/** Safe tar extraction: hostile members are refused with one line, nothing is written outside the target. */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { extractRootfs } from '../src/build/rootfs.js';
import { extractTar } from '../src/build/tar.js';

type Member = Partial<Header> & { name: string; body?: string };

async function tarball(members: Member[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => void chunks.push(c as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const { body, ...h } of members) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ ...h, mode: h.mode ?? 0o644, mtime: h.mtime ?? new Date(1_700_000_000_000) }, body ?? '', (e) => (e ? reject(e) : resolve())),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cvm-tar-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes the tarball, extracts it into a fresh `<case>/tree` and returns that case directory. */
async function extract(
  members: Member[],
  opts: { rooted?: boolean; gzip?: boolean } = {},
): Promise<{ caseDir: string; tree: string; file: string; result: Awaited<ReturnType<typeof extractTar>> }> {
  const caseDir = join(dir, `case${n++}`);
  const tree = join(caseDir, 'tree');
  const file = join(caseDir, 'in.tar');
  const raw = await tarball(members);
  await rm(caseDir, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(caseDir, { recursive: true }));
  await writeFile(file, opts.gzip ? gzipSync(raw) : raw);
  const result = await extractTar(file, tree, { rooted: opts.rooted ?? false });
  return { caseDir, tree, file, result };
}

async function refused(members: Member[], pattern: RegExp, opts: { rooted?: boolean } = {}): Promise<void> {
  const caseNo = n;
  const err = await extract(members, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'extraction must fail').toBeInstanceOf(InputError);
  const msg = (err as Error).message;
  expect(msg.includes('\n'), `one line: ${msg}`).toBe(false);
  expect(msg).toMatch(pattern);
  // Nothing escaped: the case directory holds only the tarball and the (partial) tree.
  expect((await readdir(join(dir, `case${caseNo}`))).sort()).toEqual(['in.tar', 'tree']);
  expect(existsSync(join(dir, 'escaped'))).toBe(false);
}

describe('safe tar extraction', () => {
  it('extracts files, dirs, symlinks and hardlinks with modes and times; returns the tarball sha256', async () => {
    const { tree, file, result } = await extract([
      { name: './', type: 'directory', mode: 0o755 },
      { name: './etc/', type: 'directory', mode: 0o755 },
      { name: './etc/hostname', body: 'localhost\n', mode: 0o644 },
      { name: './usr/bin/tool', body: '#!/bin/sh\n', mode: 0o4755 },
      { name: './bin', type: 'symlink', linkname: 'usr/bin' },
      { name: './usr/bin/tool2', type: 'link', linkname: './usr/bin/tool' },
      { name: './ro/', type: 'directory', mode: 0o555 },
      { name: './ro/f', body: 'x' },
    ]);
    expect(result.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    expect(result.members).toBe(8);
    expect(readFileSync(join(tree, 'etc/hostname'), 'utf8')).toBe('localhost\n');
    expect(readlinkSync(join(tree, 'bin'))).toBe('usr/bin');
    expect(statSync(join(tree, 'usr/bin/tool')).mode & 0o7777).toBe(0o755); // setuid dropped
    expect(statSync(join(tree, 'usr/bin/tool2')).ino).toBe(statSync(join(tree, 'usr/bin/tool')).ino);
    expect(statSync(join(tree, 'ro')).mode & 0o777).toBe(0o555);
    expect(readFileSync(join(tree, 'ro/f'), 'utf8')).toBe('x');
    expect(statSync(join(tree, 'etc/hostname')).mtimeMs).toBe(1_700_000_000_000);
    expect(lstatSync(join(tree, 'bin')).mtimeMs).toBe(1_700_000_000_000);
  });

  it('reads gzip-compressed tarballs (sha256 is of the compressed file)', async () => {
    const { tree, file, result } = await extract([{ name: 'a/b.txt', body: 'hello' }], { gzip: true });
    expect(readFileSync(join(tree, 'a/b.txt'), 'utf8')).toBe('hello');
    expect(result.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
  });

  it('refuses a ../ member', () => refused([{ name: '../escaped', body: 'x' }], /unsafe tar member "\.\.\/escaped" in .*: ".." component/));
  it('refuses a ../ in the middle of a member path', () => refused([{ name: 'a/../../escaped', body: 'x' }], /"a\/\.\.\/\.\.\/escaped".*escapes/));
  it('refuses an absolute member path', () => refused([{ name: `${dir}/escaped`, body: 'x' }], /absolute path/));
  it('refuses a relative symlink out of the tree', () =>
    refused([{ name: 'link', type: 'symlink', linkname: '../escaped' }], /"link".*points out of the tree/));
  it('refuses an absolute symlink unless rooted', () =>
    refused([{ name: 'link', type: 'symlink', linkname: '/etc/passwd' }], /symlink to the absolute path \/etc\/passwd/));
  it('refuses a member written through an earlier symlink', () =>
    refused(
      [
        { name: 'd', type: 'symlink', linkname: '.' },
        { name: 'd/f', body: 'x' },
      ],
      /"d\/f".*below the symlink d/,
    ));
  it('refuses a symlink chain that escapes through another symlink', () =>
    refused(
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/up', type: 'symlink', linkname: '..' },
        { name: 'out', type: 'symlink', linkname: 'a/up/..' },
      ],
      /"out".*points out of the tree/,
    ));
  it('refuses a hardlink to a path outside the tree', () => refused([{ name: 'h', type: 'link', linkname: '../escaped' }], /"h".*hardlink target/));
  it('refuses a hardlink to a host file by absolute path', () => refused([{ name: 'h', type: 'link', linkname: '/etc/passwd' }], /"h".*absolute path/));
  it('refuses device nodes', () =>
    refused([{ name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 }], /"dev\/null".*character-device members are not allowed/));
  it('refuses a file that replaces an earlier symlink', () =>
    refused(
      [
        { name: 'x', type: 'symlink', linkname: 'y' },
        { name: 'x', body: 'x' },
      ],
      /"x".*duplicate member/,
    ));

  it('rooted: absolute symlinks mean the tree root and are kept', async () => {
    const { tree } = await extract([{ name: 'etc/localtime', type: 'symlink', linkname: '/usr/share/zoneinfo/Etc/UTC' }], { rooted: true });
    expect(readlinkSync(join(tree, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Etc/UTC');
  });
});

describe('extractRootfs', () => {
  it('leaves nothing behind for a hostile tarball and verifies the pinned sha256', async () => {
    const file = join(dir, 'rootfs-bad.tar');
    await writeFile(
      file,
      await tarball([
        { name: 'ok', body: 'x' },
        { name: '../escaped', body: 'x' },
      ]),
    );
    const target = join(dir, 'rootfs-bad');
    await expect(extractRootfs(file, target)).rejects.toThrow(/unsafe tar member "\.\.\/escaped"/);
    expect((await readdir(dir)).filter((f) => f.startsWith('rootfs-bad'))).toEqual(['rootfs-bad.tar']);

    const good = join(dir, 'rootfs-good.tar');
    await writeFile(good, await tarball([{ name: 'etc/os-release', body: 'ID=debian\n' }]));
    const sha = createHash('sha256').update(readFileSync(good)).digest('hex');
    await expect(extractRootfs(good, join(dir, 'rootfs-good'), '0'.repeat(64))).rejects.toThrow(/sha256 mismatch: expected 0{64}, got [0-9a-f]{64}/);
    expect(existsSync(join(dir, 'rootfs-good'))).toBe(false);
    expect(await extractRootfs(good, join(dir, 'rootfs-good'), sha)).toEqual({ sha256: sha, extracted: true });
    expect(readFileSync(join(dir, 'rootfs-good/etc/os-release'), 'utf8')).toBe('ID=debian\n');
    expect(JSON.parse(readFileSync(join(dir, 'rootfs-good.origin.json'), 'utf8'))).toEqual({ tarball: good, sha256: sha });
  });

  it('checks the extracted tree against its manifest before each use: an altered tree is extracted again', async () => {
    const good = join(dir, 'rootfs-watch.tar');
    await writeFile(
      good,
      await tarball([
        { name: 'etc/os-release', body: 'ID=debian\n' },
        { name: 'usr/bin/tool', body: '#!/bin/sh\n', mode: 0o755 },
      ]),
    );
    const sha = createHash('sha256').update(readFileSync(good)).digest('hex');
    const root = join(dir, 'rootfs-watch');
    expect(await extractRootfs(good, root, sha)).toEqual({ sha256: sha, extracted: true });
    expect(await extractRootfs(good, root, sha)).toEqual({ sha256: sha, extracted: false });
    const poisonings: [() => Promise<void>, string][] = [
      [() => writeFile(join(root, 'usr/bin/planted'), 'echo pwned\n'), '/usr/bin/planted was added'],
      [() => writeFile(join(root, 'etc/os-release'), 'ID=evil\n'), '/etc/os-release was changed'],
      [() => chmod(join(root, 'usr/bin/tool'), 0o4755), '/usr/bin/tool was changed'],
      [() => rm(join(root, 'usr/bin/tool')), '/usr/bin/tool was removed'],
      [() => symlink('/etc/os-release', join(root, 'etc/link')), '/etc/link was added'],
      [() => rm(join(dir, 'rootfs-watch.manifest.json')), 'no manifest of it was recorded'],
    ];
    // two builds sharing the cache find the same poisoned tree: one repairs it, the other waits and reuses it
    await writeFile(join(root, 'usr/bin/planted'), 'echo pwned\n');
    const both = await Promise.all([extractRootfs(good, root, sha), extractRootfs(good, root, sha)]);
    expect(both.map((r) => r.extracted).sort()).toEqual([false, true]);
    expect(existsSync(join(root, 'usr/bin/planted'))).toBe(false);
    for (const [poison, altered] of poisonings) {
      await poison();
      expect(await extractRootfs(good, root, sha)).toEqual({ sha256: sha, extracted: true, altered });
      expect((await readdir(root, { recursive: true })).sort()).toEqual(['etc', 'etc/os-release', 'usr', 'usr/bin', 'usr/bin/tool']);
      expect(readFileSync(join(root, 'etc/os-release'), 'utf8')).toBe('ID=debian\n');
    }
  });
});
