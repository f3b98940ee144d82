/**
 * Every file a Debian binary package ships against an independent rebuild of its source: `reproduced`
 * (same bytes), `differs` (with the per-part diff: firmware volume, module, PE section) or `not attempted`
 * (with why: the step that makes it was not run, or the file is not a build output at all).
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import type { ArchiveEntry } from '../inputs/member.js';
import { explainDifference } from '../diff.js';

export type FileStatus = 'reproduced' | 'differs' | 'not attempted';

export interface FileResult {
  /** Path inside the package (no leading slash). */
  path: string;
  /** A UEFI firmware image (`*.fd`). */
  firmware: boolean;
  status: FileStatus;
  shipped: { sha256: string; size: number } | { symlink: string };
  rebuilt?: { sha256: string; size: number };
  /** The file of the rebuilt source tree it was compared with. */
  from?: string;
  /** `not attempted`: why; a symlink: what it points to and which rule made it. */
  reason?: string;
  /** `differs`: which parts (explainDifference). */
  parts?: string[];
}

export interface PackageRebuild {
  shipped: readonly ArchiveEntry[];
  /** Package path → source-tree path (installMap of the package's .install rules). */
  origins: ReadonlyMap<string, string>;
  /** The package's .links rules. */
  links: readonly { target: string; link: string }[];
  /** Source-tree path → rebuilt bytes, for every file the rebuild produced. */
  rebuilt: ReadonlyMap<string, Uint8Array>;
  /** Why a source-tree file was not produced (its step failed or was not run). */
  notBuilt: (treePath: string) => string;
  /** The package name, for the rule files named in reasons. */
  pkg: string;
}

const digest = (b: Uint8Array) => ({ sha256: createHash('sha256').update(b).digest('hex'), size: b.length });

function compareFile(path: string, data: Uint8Array, p: PackageRebuild): FileResult {
  const firmware = path.endsWith('.fd');
  const shipped = digest(data);
  const from = p.origins.get(path);
  if (from === undefined) {
    const reason = path.startsWith(`usr/share/doc/`)
      ? 'installed by debhelper from debian/ (dh_installdocs, dh_installchangelogs): not a build output'
      : `no rule of debian/${p.pkg}.install ships it`;
    return { path, firmware, status: 'not attempted', shipped, reason };
  }
  const bytes = p.rebuilt.get(from);
  if (!bytes) return { path, firmware, status: 'not attempted', shipped, from, reason: p.notBuilt(from) };
  const rebuilt = digest(bytes);
  if (rebuilt.sha256 === shipped.sha256) return { path, firmware, status: 'reproduced', shipped, rebuilt, from };
  return { path, firmware, status: 'differs', shipped, rebuilt, from, parts: explainDifference(data, bytes) };
}

/** The package path a symlink entry resolves to (relative targets against its directory). */
const resolveLink = (path: string, target: string) => posix.normalize(target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(path), target));

/** One result per shipped file and symlink, in the package's order; a symlink takes its target's status. */
export function comparePackage(p: PackageRebuild): FileResult[] {
  const files = new Map<string, FileResult>();
  for (const e of p.shipped) if (e.kind === 'file') files.set(e.path, compareFile(e.path, e.data, p));
  return p.shipped.map((e): FileResult => {
    if (e.kind === 'file') return files.get(e.path)!;
    const firmware = e.path.endsWith('.fd');
    if (e.kind !== 'symlink') return { path: e.path, firmware, status: 'not attempted', shipped: { symlink: '' }, reason: 'not a regular file or symlink' };
    const to = resolveLink(e.path, e.target);
    const rule = p.links.find((l) => l.link === e.path);
    const shipped = { symlink: e.target };
    if (!rule) return { path: e.path, firmware, status: 'not attempted', shipped, reason: `symlink to ${to}: no rule of debian/${p.pkg}.links makes it` };
    if (rule.target !== to)
      return { path: e.path, firmware, status: 'differs', shipped, reason: `symlink to ${to}, but debian/${p.pkg}.links says ${rule.target}` };
    const t = files.get(to);
    const via = `symlink to ${to} (debian/${p.pkg}.links)`;
    return t
      ? { ...t, path: e.path, firmware, shipped, reason: t.reason ? `${via}; ${t.reason}` : via }
      : { path: e.path, firmware, status: 'not attempted', shipped, reason: `${via}, which the package does not ship` };
  });
}
