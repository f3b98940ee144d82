/**
 * The base rootfs tarball: mmdebstrap with SOURCE_DATE_EPOCH built twice gives the same sha256, carries
 * nothing of the building host (hostname, resolver, mirror URLs), no device nodes, no mtime past the epoch.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { aptMirrors, createRootfsTarball } from '../src/build/rootfs.js';
import { describeIf, rootfsUnavailable, TEST_ROOTFS } from './sandbox.fixture.js';

const reason = await rootfsUnavailable();

describeIf(reason, 'base rootfs tarball (mmdebstrap)', () => {
  let dir = '';
  let first: { path: string; sha256: string };
  let second: { path: string; sha256: string };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cvm-rootfs-test-'));
    first = await createRootfsTarball({ ...TEST_ROOTFS, out: join(dir, 'a.tar') });
    second = await createRootfsTarball({ ...TEST_ROOTFS, out: join(dir, 'b.tar') });
  }, 900_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is bit-reproducible: two builds have the same sha256', () => {
    expect(first.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(second.sha256).toBe(first.sha256);
  });

  it('holds no device nodes, no host hostname/resolver/sources, and no mtime after SOURCE_DATE_EPOCH', async () => {
    const extract = tar.extract();
    createReadStream(first.path).pipe(extract);
    const types = new Set<string>();
    const files = new Map<string, string>();
    let newest = 0;
    for await (const e of extract) {
      const name = e.header.name.replace(/^\.\//, '');
      types.add(e.header.type);
      newest = Math.max(newest, e.header.mtime.getTime() / 1000);
      let body = '';
      for await (const c of e) body += String(c);
      if (name.startsWith('etc/')) files.set(name, body);
    }
    expect([...types].sort()).toEqual(['directory', 'file', 'link', 'symlink'].filter((t) => types.has(t)));
    expect(types.has('character-device') || types.has('block-device') || types.has('fifo')).toBe(false);
    expect(files.get('etc/hostname')).toBe('localhost\n');
    expect(files.has('etc/resolv.conf')).toBe(false);
    expect([...files.keys()].filter((f) => f.startsWith('etc/apt/sources.list'))).toEqual(['etc/apt/sources.list.d/']);
    expect(files.get('etc/debian_version')).toMatch(/^\d+\.\d+\n$/);
    expect(newest).toBeLessThanOrEqual(TEST_ROOTFS.sourceDateEpoch);
  });

  it('takes its repositories from the system apt configuration', async () => {
    const lines = await aptMirrors(TEST_ROOTFS.suite);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(new RegExp(`^deb [a-z]+://\\S+ ${TEST_ROOTFS.suite}(-[a-z]+)? [a-z]`));
    await expect(aptMirrors('no-such-suite')).rejects.toThrow(/no deb entry for suite no-such-suite/);
  });
});
