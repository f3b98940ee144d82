import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cache } from '../src/build/cache.js';
import { fetchInput } from '../src/build/inputs/index.js';
import { readMember } from '../src/build/inputs/member.js';

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const WRONG = 'ab'.repeat(32);

/** Everything a cache directory holds, as relative paths (directories included). */
function contents(root: string): string[] {
  return existsSync(root) ? readdirSync(root, { recursive: true }).map(String).sort() : [];
}
const blobs = (c: Cache) => contents(join(c.root, 'blobs'));
const tmpFiles = (c: Cache) => contents(join(c.root, 'tmp'));

function freshCache(): Cache {
  return new Cache(mkdtempSync(join(tmpdir(), 'cvm-cache-')));
}

const log = () => {};

describe('pinned inputs: hostile and mismatching inputs leave nothing in the cache', () => {
  const payload = Buffer.from('pinned payload\n');
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => res.end(req.url === '/file' ? payload : 'other'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/file`;
  });
  afterAll(() => server.close());

  it('url: a download that does not match its sha256 is refused and not cached', async () => {
    const cache = freshCache();
    const ctx = { cache, recipeDir: tmpdir(), log };
    await expect(fetchInput('x', { kind: 'url', url, sha256: WRONG }, undefined, ctx)).rejects.toThrow(
      `input x (url ${url}): sha256 mismatch: expected ${WRONG}, got ${sha256(payload)} (refused; nothing cached)`,
    );
    expect(blobs(cache)).toEqual([]);
    expect(tmpFiles(cache)).toEqual([]);
    const ok = await fetchInput('x', { kind: 'url', url, sha256: sha256(payload) }, undefined, ctx);
    expect(ok).toEqual({ kind: 'url', ref: url, sha256: sha256(payload) });
    expect(readFileSync(cache.blobPath(ok.sha256))).toEqual(payload);
    expect(tmpFiles(cache)).toEqual([]);
  });

  it('file: content that does not match the recipe pin is refused', async () => {
    const cache = freshCache();
    const dir = mkdtempSync(join(tmpdir(), 'rec-'));
    writeFileSync(join(dir, 'f.txt'), 'hello');
    await expect(fetchInput('f', { kind: 'file', file: 'f.txt', sha256: WRONG }, undefined, { cache, recipeDir: dir, log })).rejects.toThrow(/sha256 mismatch/);
    expect(blobs(cache)).toEqual([]);
  });

  it('debian-binary: a package whose digest differs from the pin is refused and not cached', async () => {
    const cache = freshCache();
    const ctx = { cache, recipeDir: tmpdir(), log };
    const spec = { kind: 'debian-binary' as const, package: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1' };
    await expect(fetchInput('bb', { ...spec, sha256: WRONG }, undefined, ctx)).rejects.toThrow(
      /input bb \(debian-binary busybox-static=1:1.35.0-4\+deb12u1\+b1\): sha256 mismatch: expected abab.*, got 3d3fdbe9/,
    );
    expect(blobs(cache)).toEqual([]);
    expect(tmpFiles(cache)).toEqual([]);
    // apt's own index digest of that package (Packages: SHA256) is what gets pinned
    const r = await fetchInput('bb', spec, undefined, ctx);
    expect(r.sha256).toBe('3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744');
    const busybox = await readMember(cache.blobPath(r.sha256), 'bin/busybox', 'bb');
    expect(busybox.subarray(0, 4)).toEqual(Buffer.from('\x7fELF', 'latin1'));
  });

  it('debian-source: the .dsc (pinned) and every file it lists, each checked against the .dsc', async () => {
    const cache = freshCache();
    const ctx = { cache, recipeDir: tmpdir(), log };
    const spec = { kind: 'debian-source' as const, package: 'hello', version: '2.10-3' };
    await expect(fetchInput('hello', { ...spec, sha256: WRONG }, undefined, ctx)).rejects.toThrow(
      /input hello \(debian-source hello=2\.10-3\): sha256 mismatch: expected abab/,
    );
    expect(blobs(cache)).toEqual([]);
    const r = await fetchInput('hello', spec, undefined, ctx);
    expect(r.files!.map((f) => f.name)).toEqual(['hello_2.10-3.dsc', 'hello_2.10.orig.tar.gz', 'hello_2.10.orig.tar.gz.asc', 'hello_2.10-3.debian.tar.xz']);
    expect(r.sha256).toBe(r.files![0]!.sha256);
    const dsc = readFileSync(cache.blobPath(r.sha256), 'utf8');
    for (const f of r.files!.slice(1)) {
      expect(dsc).toContain(` ${f.sha256} ${f.size} ${f.name}`);
      expect(sha256(readFileSync(cache.blobPath(f.sha256)))).toBe(f.sha256);
    }
  }, 120_000);

  it('git: the archive of a pinned commit, refused on a digest mismatch', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'repo-'));
    const env = {
      ...process.env,
      GIT_AUTHOR_DATE: '2023-11-14T22:13:20Z',
      GIT_COMMITTER_DATE: '2023-11-14T22:13:20Z',
      GIT_AUTHOR_NAME: 'a',
      GIT_AUTHOR_EMAIL: 'a@b',
      GIT_COMMITTER_NAME: 'a',
      GIT_COMMITTER_EMAIL: 'a@b',
    };
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, ...a], { env, encoding: 'utf8' }).trim();
    git('init', '-q');
    writeFileSync(join(repo, 'a.txt'), 'content\n');
    git('add', 'a.txt');
    git('commit', '-q', '-m', 'one');
    const commit = git('rev-parse', 'HEAD');
    const cache = freshCache();
    const ctx = { cache, recipeDir: repo, log };
    await expect(fetchInput('src', { kind: 'git', git: repo, commit, sha256: WRONG }, undefined, ctx)).rejects.toThrow(/sha256 mismatch/);
    expect(blobs(cache)).toEqual([]);
    const a = await fetchInput('src', { kind: 'git', git: repo, commit }, undefined, ctx);
    const b = await fetchInput('src', { kind: 'git', git: repo, commit }, undefined, { ...ctx, cache: freshCache() });
    expect(a.sha256).toBe(b.sha256);
    expect((await readMember(cache.blobPath(a.sha256), 'src/a.txt', 'src')).toString()).toBe('content\n');
    expect(tmpFiles(cache)).toEqual([]);
  });

  it('a cached blob altered on disk is detected before use and removed', async () => {
    const cache = freshCache();
    const b = await cache.putBytes(Buffer.from('original'));
    chmodSync(cache.blobPath(b.sha256), 0o644);
    writeFileSync(cache.blobPath(b.sha256), 'tampered');
    await expect(cache.verified(b.sha256, 'input t')).rejects.toThrow(`input t: cached blob ${b.sha256} is corrupt`);
    expect(existsSync(cache.blobPath(b.sha256))).toBe(false);
  });

  it('a blob handed to a build step is a read-only copy: writing through it cannot reach the cache', async () => {
    const cache = freshCache();
    const b = await cache.putBytes(Buffer.from('pinned input\n'));
    const dest = join(mkdtempSync(join(tmpdir(), 'src-')), 'msg');
    await cache.materialize(b.sha256, dest, 'input msg');
    expect(statSync(dest).ino).not.toBe(statSync(cache.blobPath(b.sha256)).ino);
    expect(statSync(cache.blobPath(b.sha256)).nlink).toBe(1);
    expect(statSync(dest).mode & 0o777).toBe(0o444);
    chmodSync(dest, 0o644);
    appendFileSync(dest, 'poison\n');
    await expect(cache.verified(b.sha256, 'input msg')).resolves.toBe(cache.blobPath(b.sha256));
    // a blob corrupted in the cache is caught on the copy, and neither the copy nor the blob remains
    chmodSync(cache.blobPath(b.sha256), 0o644);
    writeFileSync(cache.blobPath(b.sha256), 'tampered');
    await expect(cache.materialize(b.sha256, dest, 'input msg')).rejects.toThrow(`input msg: cached blob ${b.sha256} is corrupt`);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(cache.blobPath(b.sha256))).toBe(false);
  });
});

describe('archive members', () => {
  it('follows symlinks inside the archive and never reads outside it', async () => {
    const pack = tar.pack();
    pack.entry({ name: './usr/lib/real.bin' }, 'REAL');
    pack.entry({ name: './usr/share/link.bin', type: 'symlink', linkname: '../lib/real.bin' });
    pack.entry({ name: './abs.bin', type: 'symlink', linkname: '/usr/lib/real.bin' });
    pack.entry({ name: './escape.bin', type: 'symlink', linkname: '../../../etc/passwd' });
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    const file = join(mkdtempSync(join(tmpdir(), 'tar-')), 'a.tar');
    writeFileSync(file, Buffer.concat(chunks));
    expect((await readMember(file, 'usr/share/link.bin', 't')).toString()).toBe('REAL');
    expect((await readMember(file, 'abs.bin', 't')).toString()).toBe('REAL');
    await expect(readMember(file, 'escape.bin', 't')).rejects.toThrow('t: no member escape.bin in the archive');
    await expect(readMember(file, 'missing', 't')).rejects.toThrow('t: no member missing in the archive');
  });
});
