/**
 * The build environment as Debian records it: the packages installed in a rootfs (dpkg's status file,
 * deb822 stanzas: Debian Policy §5.1) and a .buildinfo (deb-buildinfo(5): Installed-Build-Depends as
 * `name (= version)`, Build-Path, Environment), from which the rootfs is pinned.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../errors.js';
import { controlField } from './fetch.js';

/** name → version of every package dpkg lists as installed in `rootfs`. */
export async function installedPackages(rootfs: string): Promise<Record<string, string>> {
  const text = await readFile(join(rootfs, 'var', 'lib', 'dpkg', 'status'), 'utf8').catch(() => '');
  const out: Record<string, string> = {};
  for (const stanza of text.split(/\n\s*\n/)) {
    const name = controlField(stanza, 'Package');
    const version = controlField(stanza, 'Version');
    const arch = controlField(stanza, 'Architecture');
    if (name && version && /install ok installed/.test(controlField(stanza, 'Status') ?? ''))
      out[arch && arch !== 'all' && arch !== 'amd64' ? `${name}:${arch}` : name] = version;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export interface Buildinfo {
  source: string;
  version: string;
  installed: { name: string; version: string }[];
  buildPath: string | undefined;
}

/** A .buildinfo (the signature armour, if any, is ignored: the file pins versions, it is not trusted for more). */
export function parseBuildinfo(text: string, what: string): Buildinfo {
  const body = text.replace(/^-----BEGIN PGP SIGNED MESSAGE-----\n(?:.+\n)*\n/, '').replace(/\n-----BEGIN PGP SIGNATURE-----[\s\S]*$/, '');
  const source = controlField(body, 'Source')?.split(/\s+/)[0];
  const version = controlField(body, 'Version');
  const deps = controlField(body, 'Installed-Build-Depends');
  if (!source || !version || !deps) throw new InputError(`${what}: not a .buildinfo (needs Source, Version and Installed-Build-Depends)`);
  const installed = deps
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => {
      const m = /^([a-z0-9][a-z0-9.+-]*)(?::[a-z0-9-]+)?\s*\(=\s*([^)\s]+)\)$/.exec(d);
      if (!m) throw new InputError(`${what}: Installed-Build-Depends entry ${JSON.stringify(d)} is not "name (= version)"`);
      return { name: m[1]!, version: m[2]! };
    });
  const buildPath = controlField(body, 'Build-Path');
  return { source, version, installed, buildPath };
}
