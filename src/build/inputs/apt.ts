/**
 * Debian packages through the system's own apt configuration: binary packages with `apt-get download`
 * (the system's lists), source packages with `apt-get source --download-only` against a private apt
 * state whose deb-src entries mirror the system's deb entries (same URI, suite, component, Signed-By).
 * apt itself checks every file against the signed Release/Packages/Sources indexes.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BuildError, InputError } from '../../errors.js';

export interface AptSource {
  uri: string;
  suite: string;
  components: Set<string>;
  signedBy?: string;
}

/** The system's `deb` entries, as apt itself reports them (`apt-get indextargets`). */
export async function systemSources(): Promise<AptSource[]> {
  const r = await execa('apt-get', ['indextargets', '--format', '$(TARGET_OF)\t$(REPO_URI)\t$(RELEASE)\t$(COMPONENT)\t$(SOURCESENTRY)'], { reject: false });
  if (r.exitCode !== 0) throw new BuildError(`apt-get indextargets failed: ${r.stderr.split('\n')[0]}`);
  const byKey = new Map<string, AptSource>();
  for (const line of r.stdout.split('\n')) {
    const [targetOf, uri, suite, component, entry] = line.split('\t');
    if (targetOf !== 'deb' || !uri || !suite || !component) continue;
    const key = `${uri} ${suite}`;
    const s = byKey.get(key) ?? { uri, suite, components: new Set<string>(), ...(await signedByOf(entry)) };
    s.components.add(component);
    byKey.set(key, s);
  }
  if (byKey.size === 0) throw new BuildError('the system apt configuration has no deb entries (apt-get indextargets lists none)');
  return [...byKey.values()];
}

/** Signed-By of a sources entry (`file:line`), deb822 (the stanza around that line) or one-line style. */
async function signedByOf(entry: string | undefined): Promise<{ signedBy?: string }> {
  const m = /^(.*):(\d+)$/.exec(entry ?? '');
  if (!m) return {};
  const lines = (await readFile(m[1]!, 'utf8').catch(() => '')).split('\n');
  const at = Number(m[2]) - 1;
  if (m[1]!.endsWith('.sources')) {
    let from = at;
    let to = at;
    while (from > 0 && lines[from - 1]!.trim() !== '') from--;
    while (to < lines.length - 1 && lines[to + 1]!.trim() !== '') to++;
    const sb = lines
      .slice(from, to + 1)
      .map((l) => /^Signed-By:\s*(\S+)\s*$/i.exec(l))
      .find(Boolean);
    return sb ? { signedBy: sb[1]! } : {};
  }
  const sb = /signed-by=([^\s\]]+)/.exec(lines[at] ?? '');
  return sb ? { signedBy: sb[1]! } : {};
}

function aptOptions(stateDir: string): string[] {
  return [
    '-o',
    `Dir::Etc::SourceList=${join(stateDir, 'sources.list')}`,
    '-o',
    `Dir::Etc::SourceParts=${join(stateDir, 'sources.list.d')}`,
    '-o',
    `Dir::State::Lists=${join(stateDir, 'lists')}`,
    '-o',
    `Dir::Cache=${join(stateDir, 'cache')}`,
    '-o',
    'APT::Sandbox::User=root',
    '-o',
    'Acquire::Languages=none',
    '-qq',
  ];
}

/** Creates (once) the private deb-src state under `stateDir`; `refresh` forces `apt-get update`. */
async function sourceState(stateDir: string, refresh: boolean): Promise<string[]> {
  const opts = aptOptions(stateDir);
  const marker = join(stateDir, 'lists', '.updated');
  const have = await readFile(marker, 'utf8').then(
    () => true,
    () => false,
  );
  if (have && !refresh) return opts;
  const stanzas = (await systemSources()).map((s) =>
    [
      `Types: deb-src`,
      `URIs: ${s.uri}`,
      `Suites: ${s.suite}`,
      `Components: ${[...s.components].sort().join(' ')}`,
      ...(s.signedBy ? [`Signed-By: ${s.signedBy}`] : []),
    ].join('\n'),
  );
  await mkdir(join(stateDir, 'sources.list.d'), { recursive: true });
  await mkdir(join(stateDir, 'lists', 'partial'), { recursive: true });
  await mkdir(join(stateDir, 'cache', 'archives', 'partial'), { recursive: true });
  await writeFile(join(stateDir, 'sources.list'), '');
  await writeFile(join(stateDir, 'sources.list.d', 'cvm-measure-src.sources'), `${stanzas.join('\n\n')}\n`);
  const r = await execa('apt-get', [...opts, 'update'], { reject: false, all: true });
  if (r.exitCode !== 0) throw new BuildError(`apt-get update (deb-src) failed: ${lastLine(r.all)}`);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return opts;
}

function lastLine(s: string | undefined): string {
  return (s ?? '').trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
}

/** Downloads `pkg=version` (.deb) into `dir` with the system's apt configuration; returns its path. */
export async function aptDownload(pkg: string, version: string, dir: string): Promise<string> {
  const r = await execa('apt-get', ['-qq', 'download', `${pkg}=${version}`], { cwd: dir, reject: false, all: true });
  if (r.exitCode !== 0) {
    throw new InputError(`debian-binary ${pkg}=${version}: apt-get download failed: ${lastLine(r.all)} (is the version in the apt lists? try apt-get update)`);
  }
  const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
  if (debs.length !== 1) throw new BuildError(`debian-binary ${pkg}=${version}: expected one .deb, apt-get left ${debs.length}`);
  return join(dir, debs[0]!);
}

/**
 * Downloads source package `pkg=version` (.dsc + the files it lists) into `dir`; returns the .dsc
 * path. The deb-src lists are refreshed once if the version is not found.
 */
export async function aptSourceDownload(pkg: string, version: string, dir: string, stateDir: string): Promise<string> {
  let all = '';
  for (const refresh of [false, true]) {
    const opts = await sourceState(stateDir, refresh);
    const r = await execa('apt-get', [...opts, 'source', '--download-only', `${pkg}=${version}`], { cwd: dir, reject: false, all: true });
    if (r.exitCode === 0) {
      const dsc = (await readdir(dir)).filter((f) => f.endsWith('.dsc'));
      if (dsc.length !== 1) throw new BuildError(`debian-source ${pkg}=${version}: expected one .dsc, apt-get left ${dsc.length}`);
      return join(dir, dsc[0]!);
    }
    all = r.all ?? '';
  }
  throw new InputError(`debian-source ${pkg}=${version}: apt-get source failed: ${lastLine(all)}`);
}

/** The files a .dsc lists in Checksums-Sha256 (name, sha256, size). */
export function dscFiles(dsc: string): { name: string; sha256: string; size: number }[] {
  const m = /^Checksums-Sha256:[ \t]*\n((?:[ \t]+.*\n?)+)/m.exec(dsc);
  if (!m) throw new InputError('.dsc has no Checksums-Sha256 field');
  return m[1]!
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [sha256, size, name] = l.split(/\s+/);
      if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !name || name.includes('/') || name.startsWith('.'))
        throw new InputError(`.dsc: malformed Checksums-Sha256 line ${JSON.stringify(l)}`);
      return { name, sha256, size: Number(size) };
    });
}
