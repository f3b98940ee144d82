/**
 * A Debian binary package and the source package it was built from, through the system's apt (which
 * checks every file against the signed InRelease and its Packages / Sources indexes: inputs/apt.ts),
 * kept in the content-addressed cache under a `debian` record so a second run needs no network.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BuildError, InputError } from '../../errors.js';
import type { Cache } from '../cache.js';
import { aptDownload, aptSourceDownload, dscFiles } from '../inputs/apt.js';

export interface PinnedFile {
  name: string;
  sha256: string;
}

export interface DebianPackages {
  binary: { name: string; version: string; deb: PinnedFile };
  source: { name: string; version: string; dsc: PinnedFile; files: PinnedFile[] };
  /** Where the files came from on this run. */
  from: 'cache' | 'mirror';
}

/** One field of a deb822 stanza (Debian Policy §5.1: continuation lines start with a space). */
export function controlField(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\n[ \\t].*)*)`, 'mi').exec(text);
  return m ? m[1]!.replace(/\n[ \t]+/g, '\n').trim() : undefined;
}

/** The version apt would install (`apt-cache policy`'s Candidate line). */
export async function aptCandidate(pkg: string): Promise<string> {
  const r = await execa('apt-cache', ['policy', pkg], { reject: false });
  const v = /^\s*Candidate:\s*(\S+)/m.exec(String(r.stdout))?.[1];
  if (r.exitCode !== 0 || !v || v === '(none)') throw new InputError(`${pkg}: apt has no candidate version (apt-cache policy ${pkg}; run apt-get update?)`);
  return v;
}

/** Source: "name" or "name (version)" of a binary package (Debian Policy §5.6.1); absent means the same name and version. */
export function sourceOf(control: string, binary: string, version: string): { name: string; version: string } {
  const src = controlField(control, 'Source');
  if (!src) return { name: binary, version: version.replace(/\+b\d+$/, '') };
  const m = /^(\S+)(?:\s+\((\S+)\))?$/.exec(src);
  if (!m) throw new InputError(`${binary}=${version}: malformed Source field ${JSON.stringify(src)}`);
  return { name: m[1]!, version: m[2] ?? version.replace(/\+b\d+$/, '') };
}

const recordKey = (pkg: string, version: string) => `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`;

/** The cached record when every file it names is still in the cache. */
async function cached(cache: Cache, pkg: string, version: string): Promise<DebianPackages | undefined> {
  const rec = await cache.getJson<Omit<DebianPackages, 'from'>>('debian', recordKey(pkg, version));
  if (!rec?.binary?.deb || !rec.source?.dsc) return undefined;
  for (const f of [rec.binary.deb, rec.source.dsc, ...rec.source.files]) if (!(await cache.has(f.sha256))) return undefined;
  return { ...rec, from: 'cache' };
}

/**
 * `pkg=version` and its source package, from the cache or through apt; every source file is checked
 * against the .dsc's Checksums-Sha256.
 * @throws {InputError} when apt does not know the version or a file does not match its .dsc.
 */
export async function fetchDebian(cache: Cache, pkg: string, version: string): Promise<DebianPackages> {
  const hit = await cached(cache, pkg, version);
  if (hit) return hit;
  const tmp = await cache.tempDir('debian');
  try {
    await mkdir(join(tmp, 'bin'));
    await mkdir(join(tmp, 'src'));
    const debPath = await aptDownload(pkg, version, join(tmp, 'bin'));
    const control = await execa('dpkg-deb', ['-f', debPath], { reject: false });
    if (control.exitCode !== 0) throw new BuildError(`${pkg}=${version}: dpkg-deb -f failed: ${String(control.stderr).split('\n')[0]}`);
    const src = sourceOf(String(control.stdout), pkg, version);
    const dscPath = await aptSourceDownload(src.name, src.version, join(tmp, 'src'), join(cache.root, 'apt-src'));
    const dscText = await readFile(dscPath, 'utf8');
    const files: PinnedFile[] = [];
    for (const f of dscFiles(dscText)) {
      const blob = await cache.adopt(join(tmp, 'src', f.name), `${src.name} ${src.version}: ${f.name}`, f.sha256);
      files.push({ name: f.name, sha256: blob.sha256 });
    }
    const deb = await cache.adopt(debPath, `${pkg}=${version}`);
    const dsc = await cache.adopt(dscPath, `${src.name} ${src.version}: .dsc`);
    const rec = {
      binary: { name: pkg, version, deb: { name: debPath.split('/').pop()!, sha256: deb.sha256 } },
      source: { ...src, dsc: { name: dscPath.split('/').pop()!, sha256: dsc.sha256 }, files },
    };
    await cache.putJson('debian', recordKey(pkg, version), rec);
    return { ...rec, from: 'mirror' };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A Debian architecture wildcard (`any`, `linux-any`, `any-amd64`) or name against `arch` (Linux only). */
function archMatches(spec: string, arch: string): boolean {
  return spec === arch || spec === 'any' || spec === 'linux-any' || spec === `any-${arch}` || spec === `linux-${arch}`;
}

/** An alternative's `[arch …]` list: all positive (one must match) or all negated (none may match). */
function archAllows(list: string | undefined, arch: string): boolean {
  if (list === undefined) return true;
  const specs = list.trim().split(/\s+/).filter(Boolean);
  const negated = specs.filter((a) => a.startsWith('!'));
  if (negated.length) return !negated.some((a) => archMatches(a.slice(1), arch));
  return specs.some((a) => archMatches(a, arch));
}

/** `<a !b> <c>` (Debian Policy §7.1, build profiles): terms ANDed within a group, groups ORed; no profile is active. */
function profilesAllow(groups: string[]): boolean {
  if (groups.length === 0) return true;
  return groups.some((g) =>
    g
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .every((t) => t.startsWith('!')),
  );
}

/**
 * Build-Depends (and -Indep, -Arch) of a .dsc as package names for `arch` with no build profile active
 * (Debian Policy §7.1): of each relation's alternatives the first whose `[arch]` list and `<profile>`
 * groups allow it; a relation none of them satisfies is left out. debhelper-compat counts as debhelper.
 */
export function buildDepends(dsc: string, arch: string): string[] {
  const out: string[] = [];
  for (const field of ['Build-Depends', 'Build-Depends-Indep', 'Build-Depends-Arch']) {
    for (const rel of (controlField(dsc, field) ?? '').split(',')) {
      for (const alt of rel.split('|')) {
        const a = alt.trim();
        if (!a) continue;
        const archs = /\[([^\]]*)\]/.exec(a)?.[1];
        const profiles = [...a.matchAll(/<([^>]*)>/g)].map((m) => m[1]!);
        if (!archAllows(archs, arch) || !profilesAllow(profiles)) continue;
        const name = a.split(/[\s([<]/)[0]!.replace(/:(any|native)$/, '');
        out.push(name === 'debhelper-compat' ? 'debhelper' : name);
        break;
      }
    }
  }
  return [...new Set(out)].sort();
}
