/**
 * publishRelease: adds a `manifest create` output directory to a repository as
 * releases/<name>/<version>/, updates the by-measurement lookups and re-signs the index. Every
 * step leaves the previous signed index valid and every file it names intact, so a crash (or
 * kill -9) at any point leaves a repository that fetches as the old or the new state.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, VerificationError } from '../errors.js';
import type { Signer } from '../sign/signer.js';
import { exists, pidLock, writeFileAtomic } from '../util/fs.js';
import {
  canonicalBytes,
  checkName,
  type FileEntry,
  INDEX_ENVELOPE,
  INDEX_FILE,
  LOOKUP_SCHEMA,
  type Lookup,
  lookupsFor,
  referenceValuesOf,
  releasePath,
  REPOSITORY_SCHEMA,
  type RepositoryIndex,
  sha256,
  signIndex,
  verifyIndex,
} from './repository.js';

/** What a release holds: the `manifest create` files, and the build's record, recipe and lock when present. */
const RELEASE_FILE =
  /^(reference-values\.json|[a-z0-9-]+\.corim\.cbor|[a-z0-9-]+\.intoto\.json|[a-z0-9-]+\.sigstore\.json|rvps-[a-z0-9-]+\.json|build-record\.json|measurements\.json|[A-Za-z0-9._+-]+\.lock\.json|[A-Za-z0-9._+-]+\.ya?ml)$/;

export interface PublishOptions {
  repo: string;
  name: string;
  version: string;
  /** The repository key(s): each signs the index (and must verify the current one). */
  signers: readonly Signer[];
  now?: Date;
}

export interface PublishResult {
  repo: string;
  name: string;
  version: string;
  path: string;
  /** True when this exact release was already published (nothing written). */
  unchanged: boolean;
  indexVersion: number;
  indexSha256: string;
  keyIds: string[];
  files: Record<string, FileEntry>;
  lookups: string[];
}

/** Test hook: pause between steps so a kill lands in every intermediate state. */
const pause = async () => {
  const ms = Number(process.env.CVM_TEST_PUBLISH_PAUSE_MS ?? 0);
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
};

async function releaseFiles(outDir: string): Promise<Map<string, Buffer>> {
  let names: string[];
  try {
    names = (await readdir(outDir)).filter((n) => RELEASE_FILE.test(n)).sort();
  } catch (e) {
    throw new InputError(`cannot read ${outDir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const files = new Map<string, Buffer>();
  for (const n of names) if ((await stat(join(outDir, n))).isFile()) files.set(n, await readFile(join(outDir, n)));
  if (!files.has('reference-values.intoto.json'))
    throw new InputError(`${outDir}: no reference-values.intoto.json (publish the directory \`manifest create --out\` wrote, with the intoto format)`);
  return files;
}

/** The current signed index, verified with the publishing keys; undefined for a new repository. */
async function currentIndex(repo: string, signers: readonly Signer[]): Promise<{ index: RepositoryIndex; sha256: string } | undefined> {
  if (!(await exists(join(repo, INDEX_FILE)))) return undefined;
  const [bytes, env] = await Promise.all([readFile(join(repo, INDEX_FILE)), readFile(join(repo, INDEX_ENVELOPE))]);
  try {
    const v = verifyIndex(
      bytes,
      env,
      signers.map((s) => s.publicKey),
      1,
    );
    return { index: v.index, sha256: v.sha256 };
  } catch (e) {
    throw new VerificationError(`${repo}: the current index does not verify with the publishing key: ${(e as Error).message}`);
  }
}

/** One publisher at a time: a lock file holding the pid; a dead holder's lock is taken over. */
function lock(repo: string): Promise<() => Promise<void>> {
  return pidLock(join(repo, '.publish.lock'), (pid) => {
    throw new InputError(`${repo}: another publish (pid ${pid}) is running`);
  });
}

/**
 * Publishes a `manifest create` output directory as release name@version: staged inside the repository,
 * renamed into place, lookups written, the signed index last, so a crash leaves the previous index valid.
 * @throws {InputError} for a missing or invalid manifest, an existing version with other bytes, or an
 * index that does not verify with the publishing key.
 */
export async function publishRelease(outDir: string, o: PublishOptions): Promise<PublishResult> {
  checkName('--name', o.name);
  checkName('--version', o.version);
  if (o.signers.length === 0) throw new InputError('publish: no repository signing key');
  const files = await releaseFiles(outDir);
  const entries: Record<string, FileEntry> = Object.fromEntries([...files].map(([n, b]) => [n, { sha256: sha256(b), size: b.length }]));
  const rv = referenceValuesOf(files.get('reference-values.intoto.json')!, join(outDir, 'reference-values.intoto.json'));
  const lookups = lookupsFor(rv);
  const path = releasePath(o.name, o.version);
  const result = (indexVersion: number, indexSha256: string, unchanged: boolean): PublishResult => ({
    repo: o.repo,
    name: o.name,
    version: o.version,
    path,
    unchanged,
    indexVersion,
    indexSha256,
    keyIds: o.signers.map((s) => s.keyId),
    files: entries,
    lookups: lookups.map((l) => l.path),
  });

  await mkdir(o.repo, { recursive: true });
  const unlock = await lock(o.repo);
  try {
    // staging left by an interrupted publish (we hold the lock: no other publish is running)
    // (and temporary files of an interrupted index write)
    for (const n of await readdir(o.repo))
      if (n.startsWith('.staging-') || /^\.index\.(json|intoto\.json)\.\d+\.\d+\.tmp$/.test(n)) await rm(join(o.repo, n), { recursive: true, force: true });
    const cur = await currentIndex(o.repo, o.signers);
    const published = cur?.index.releases.find((r) => r.name === o.name && r.version === o.version);
    if (published) {
      if (canonicalBytes(published.files).equals(canonicalBytes(entries))) return result(cur!.index.version, cur!.sha256, true);
      throw new InputError(`${o.name}@${o.version} is already published with other contents: published versions are immutable (publish a new version)`);
    }
    // 1. stage the release inside the repository (same file system: renames are atomic)
    const staging = await mkdtemp(join(o.repo, '.staging-'));
    try {
      for (const [n, b] of files) await writeFileAtomic(join(staging, 'release', n), b);
      await pause();
      // 2. rename it into place; a directory no index names (left by an interrupted publish) is replaced
      const target = join(o.repo, path);
      await mkdir(join(o.repo, 'releases', o.name), { recursive: true });
      if (await exists(target)) await rename(target, join(staging, 'stale'));
      await rename(join(staging, 'release'), target);
      await pause();
      // 3. lookups, each by temp + rename (they are hints; the signed index is the authority)
      for (const l of lookups) {
        const file = join(o.repo, l.path);
        let doc: Lookup = { schema: LOOKUP_SCHEMA, platform: l.platform, value: l.value, releases: [] };
        try {
          const old = JSON.parse(await readFile(file, 'utf8')) as Lookup;
          if (old.schema === LOOKUP_SCHEMA && Array.isArray(old.releases)) doc = { ...doc, releases: old.releases };
        } catch {
          // absent or unreadable: start afresh
        }
        const entry = { name: o.name, version: o.version, parameters: l.parameters };
        const key = canonicalBytes(entry);
        if (!doc.releases.some((r) => canonicalBytes(r).equals(key))) doc.releases = [...doc.releases, entry];
        await writeFileAtomic(file, canonicalBytes(doc));
      }
      await pause();
      // 4. the signed index, last: the envelope (which also names the previous index) first, then index.json
      const index: RepositoryIndex = {
        schema: REPOSITORY_SCHEMA,
        version: (cur?.index.version ?? 0) + 1,
        timestamp: (o.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        releases: [...(cur?.index.releases ?? []), { name: o.name, version: o.version, path, files: entries }],
      };
      const bytes = canonicalBytes(index);
      const env = await signIndex(bytes, index.version, o.signers, cur ? { version: cur.index.version, sha256: cur.sha256 } : undefined);
      await writeFileAtomic(join(o.repo, INDEX_ENVELOPE), env);
      await pause();
      await writeFileAtomic(join(o.repo, INDEX_FILE), bytes);
      return result(index.version, sha256(bytes), false);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    await unlock();
  }
}
