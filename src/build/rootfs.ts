/**
 * The base rootfs: a bit-reproducible tarball made by `mmdebstrap` (SOURCE_DATE_EPOCH clamps every
 * mtime; host-specific files are normalized by a customize hook) from the repositories of the system's
 * own apt configuration, and its safe extraction (tar.ts) into a directory the sandboxes use read-only.
 */
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import { BuildError, InputError } from '../errors.js';
import { hashFile, writeFileAtomic } from '../util/fs.js';
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

/** The sidecar extractRootfs writes beside the directory: which tarball it came from. */
function originPath(dir: string): string {
  return `${dir.replace(/\/+$/, '')}.origin.json`;
}

export async function rootfsOrigin(dir: string): Promise<{ tarball: string; sha256: string }> {
  const text = await readFile(originPath(dir), 'utf8').catch(() => {
    throw new BuildError(`rootfs ${dir} was not extracted by extractRootfs (no ${originPath(dir)})`);
  });
  return JSON.parse(text) as { tarball: string; sha256: string };
}

/**
 * Safely extracts the rootfs tarball into `dir` (through a temporary sibling and a rename: `dir` appears
 * complete or not at all); with `sha256` the tarball must have that digest. Absolute symlinks are
 * kept, meaning the rootfs's own root. A `dir` already extracted from the same tarball is kept as is.
 */
export async function extractRootfs(tarball: string, dir: string, sha256?: string): Promise<{ sha256: string }> {
  const prior = await rootfsOrigin(dir).catch(() => undefined);
  if (prior && (sha256 === undefined || prior.sha256 === sha256)) {
    const { digests } = await hashFile(tarball);
    if (digests.sha256 === prior.sha256) return { sha256: prior.sha256 };
  }
  if (!prior && (await readdir(dir).catch(() => [])).length > 0)
    throw new BuildError(`rootfs directory ${dir} is not empty and was not made by extractRootfs; remove it first`);
  const tmp = `${dir.replace(/\/+$/, '')}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  try {
    const res = await extractTar(tarball, tmp, { rooted: true });
    if (sha256 !== undefined && res.sha256 !== sha256)
      throw new InputError(`rootfs tarball ${tarball}: sha256 mismatch: expected ${sha256}, got ${res.sha256}`);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    await writeFileAtomic(originPath(dir), `${JSON.stringify({ tarball: resolve(tarball), sha256: res.sha256 })}\n`);
    return { sha256: res.sha256 };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
