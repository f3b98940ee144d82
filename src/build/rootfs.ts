/**
 * The base rootfs: a bit-reproducible tarball made by `mmdebstrap` (SOURCE_DATE_EPOCH clamps every
 * mtime; host-specific files are normalized by a customize hook) from the repositories of the system's
 * own apt configuration, and its safe extraction (tar.ts) into a directory the sandboxes use read-only.
 * A manifest of the extracted tree, recorded beside it, is compared before each use: a tree altered
 * since (a planted or changed file) is extracted again.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { BuildError, InputError } from '../errors.js';
import { hashFile, pidLock, writeFileAtomic } from '../util/fs.js';
import { systemSources } from './inputs/apt.js';
import { extractTar } from './tar.js';

export interface RootfsSpec {
  suite: string;
  variant: string;
  include: string[];
  sourceDateEpoch: number;
  /** Where the tarball goes (written atomically). */
  out: string;
}

/**
 * One-line `deb` entries for `suite` and its -updates/-security companions, as the system's apt sees
 * them (`apt-get indextargets`), so no repository host is named here.
 */
export async function aptMirrors(suite: string): Promise<string[]> {
  const sources = (await systemSources()).filter((s) => s.suite === suite || s.suite.startsWith(`${suite}-`));
  if (sources.length === 0)
    throw new BuildError(`the system apt configuration has no deb entry for suite ${suite} (apt-get indextargets; run apt-get update?)`);
  return sources.map((s) => `deb ${s.uri} ${s.suite} ${[...s.components].sort().join(' ')}`).sort((a, b) => (a < b ? -1 : 1));
}

/**
 * Files that would carry the building host into the tarball (its hostname, resolver, mirror URLs) are
 * replaced by fixed content; apt lists and caches are already dropped by mmdebstrap's cleanup.
 */
const NORMALIZE_HOOK = [
  'printf "localhost\\n" > "$1/etc/hostname"',
  'chmod 0644 "$1/etc/hostname"',
  'rm -f "$1/etc/resolv.conf" "$1/etc/apt/sources.list"',
  'find "$1/etc/apt/sources.list.d" -mindepth 1 -delete',
].join(' && ');

/** Runs mmdebstrap to `spec.out` (a plain tar, no device nodes); returns its sha256. */
export async function createRootfsTarball(spec: RootfsSpec): Promise<{ path: string; sha256: string }> {
  const mirrors = await aptMirrors(spec.suite);
  const tmp = join(dirname(spec.out), `.${basename(spec.out)}.${process.pid}.tmp.tar`);
  await mkdir(dirname(spec.out), { recursive: true });
  const include = [...new Set(spec.include)].sort();
  const args = [
    `--variant=${spec.variant}`,
    ...(include.length > 0 ? [`--include=${include.join(',')}`] : []),
    '--skip=output/dev',
    `--customize-hook=${NORMALIZE_HOOK}`,
    spec.suite,
    tmp,
    ...mirrors,
  ];
  try {
    const r = await execa('mmdebstrap', args, {
      reject: false,
      all: true,
      extendEnv: false,
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        SOURCE_DATE_EPOCH: String(spec.sourceDateEpoch),
        LC_ALL: 'C.UTF-8',
        TZ: 'UTC',
        ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      },
    });
    if (r.exitCode !== 0) {
      const why =
        r.failed && r.exitCode === undefined
          ? (r.shortMessage ?? 'could not start')
          : (String(r.all ?? '')
              .trim()
              .split('\n')
              .filter(Boolean)
              .slice(-1)[0] ?? '');
      throw new BuildError(`mmdebstrap ${spec.suite} (${spec.variant}) failed (exit ${r.exitCode ?? '?'}): ${why}`);
    }
    const { digests } = await hashFile(tmp);
    await rename(tmp, spec.out);
    return { path: spec.out, sha256: digests.sha256! };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The sidecars extractRootfs writes beside the directory: which tarball it came from, and what it held. */
function sidecar(dir: string, kind: 'origin' | 'manifest'): string {
  return `${dir.replace(/\/+$/, '')}.${kind}.json`;
}

export async function rootfsOrigin(dir: string): Promise<{ tarball: string; sha256: string }> {
  const text = await readFile(sidecar(dir, 'origin'), 'utf8').catch(() => {
    throw new BuildError(`rootfs ${dir} was not extracted by extractRootfs (no ${sidecar(dir, 'origin')})`);
  });
  return JSON.parse(text) as { tarball: string; sha256: string };
}

/**
 * Every entry under `dir` in a fixed order (sorted per directory), each with its type, permission bits,
 * owner and content (a file's size and sha256, a symlink's target); anything else is recorded as such.
 * Synchronous on purpose: thousands of small files hash several times faster without a thread-pool hop each.
 */
function treeManifest(dir: string): [string, string][] {
  const out: [string, string][] = [];
  const buf = Buffer.alloc(1 << 20);
  const sha256 = (abs: string): string => {
    const h = createHash('sha256');
    const fd = openSync(abs, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    return h.digest('hex');
  };
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, path);
      const st = lstatSync(abs);
      const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.push([path, `dir ${meta}`]);
        walk(path);
      } else if (st.isSymbolicLink()) out.push([path, `symlink ${readlinkSync(abs)}`]);
      else if (st.isFile()) out.push([path, `file ${meta} ${st.size} ${sha256(abs)}`]);
      else out.push([path, `special ${st.mode.toString(8)} ${st.uid}:${st.gid}`]);
    }
  };
  walk('');
  return out;
}

/** How the tree under `dir` differs from the manifest recorded at its extraction (undefined: it does not). */
async function rootfsAltered(dir: string): Promise<string | undefined> {
  const text = await readFile(sidecar(dir, 'manifest'), 'utf8').catch(() => undefined);
  if (text === undefined) return 'no manifest of it was recorded';
  const now = treeManifest(dir);
  if (JSON.stringify(now) === text) return undefined;
  let was: Map<string, string>;
  try {
    was = new Map(JSON.parse(text) as [string, string][]);
  } catch {
    return 'its recorded manifest is unreadable';
  }
  for (const [path, what] of now) if (was.get(path) !== what) return `/${path} was ${was.has(path) ? 'changed' : 'added'}`;
  const present = new Set(now.map(([path]) => path));
  const gone = [...was.keys()].find((path) => !present.has(path));
  return gone === undefined ? 'its recorded manifest differs' : `/${gone} was removed`;
}

/**
 * Safely extracts the rootfs tarball into `dir` (through a temporary sibling and a rename: `dir` appears
 * complete or not at all); with `sha256` the tarball must have that digest. Absolute symlinks are
 * kept, meaning the rootfs's own root. A `dir` already extracted from the same tarball is kept when its
 * tree still matches the manifest recorded at extraction; otherwise it is extracted again and `altered`
 * says what differed.
 */
export async function extractRootfs(tarball: string, dir: string, sha256?: string): Promise<{ sha256: string; extracted: boolean; altered?: string }> {
  // builds sharing a cache check and extract one at a time (one may be repairing what another checks)
  await mkdir(dirname(dir), { recursive: true });
  const release = await pidLock(`${dir.replace(/\/+$/, '')}.lock`, () => {});
  try {
    return await extractLocked(tarball, dir, sha256);
  } finally {
    await release();
  }
}

async function extractLocked(tarball: string, dir: string, sha256?: string): Promise<{ sha256: string; extracted: boolean; altered?: string }> {
  const prior = await rootfsOrigin(dir).catch(() => undefined);
  let altered: string | undefined;
  if (prior) {
    const want = sha256 ?? (await hashFile(tarball)).digests.sha256;
    if (prior.sha256 === want) {
      altered = await rootfsAltered(dir);
      if (altered === undefined) return { sha256: prior.sha256, extracted: false };
    }
  }
  if (!prior && (await readdir(dir).catch(() => [])).length > 0)
    throw new BuildError(`rootfs directory ${dir} is not empty and was not made by extractRootfs; remove it first`);
  const tmp = `${dir.replace(/\/+$/, '')}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  try {
    const res = await extractTar(tarball, tmp, { rooted: true });
    if (sha256 !== undefined && res.sha256 !== sha256)
      throw new InputError(`rootfs tarball ${tarball}: sha256 mismatch: expected ${sha256}, got ${res.sha256}`);
    const manifest = JSON.stringify(treeManifest(tmp));
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    await writeFileAtomic(sidecar(dir, 'manifest'), manifest);
    await writeFileAtomic(sidecar(dir, 'origin'), `${JSON.stringify({ tarball: resolve(tarball), sha256: res.sha256 })}\n`);
    return { sha256: res.sha256, extracted: true, ...(altered ? { altered } : {}) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
