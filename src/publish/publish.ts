/**
 * publishRelease: adds a `manifest create` output directory to a repository as
 * releases/<name>/<version>/, updates the by-measurement lookups and re-signs the index. Every
 * step leaves the previous signed index valid and every file it names intact, so a crash (or
 * kill -9) at any point leaves a repository that fetches as the old or the new state.
 */
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Cache } from '../build/cache.js';
import type { Lock } from '../build/lock.js';
import { inputFile, lockedBlobs, SOURCE_DIR } from '../build/source-bundle.js';
import { InputError, VerificationError } from '../errors.js';
import { importReferenceValues } from '../manifest/import.js';
import type { MeasurementsDocument, ReferenceValues } from '../manifest/model.js';
import { readAttestation } from '../manifest/rebuild-attestation.js';
import type { Signer } from '../sign/signer.js';
import { exists, pidLock, testPause, writeFileAtomic } from '../util/fs.js';
import {
  type AttestationEntry,
  attestationPath,
  canonicalBytes,
  checkName,
  type FileEntry,
  INDEX_ENVELOPE,
  INDEX_FILE,
  isReleaseFileName,
  LOOKUP_SCHEMA,
  type Lookup,
  lookupsFor,
  referenceValuesOf,
  type ReleaseEntry,
  releasePath,
  REPOSITORY_SCHEMA,
  type RepositoryIndex,
  sha256,
  signIndex,
  verifyIndex,
} from './repository.js';
import { writeSite } from './site.js';

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
  /** A `build --out` directory: its artifacts (as artifact-<file>), build record, measurements and source/ go into the release. */
  build?: string;
  /** With `build`: also carry every locked download (.debs, sources, base tarballs) from the build cache as input-<sha256>. */
  withInputs?: boolean;
  cache?: Cache;
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

/** The rebuild material of a `build --out` directory: artifacts, record, measurements, source/ and (withInputs) the locked downloads. */
async function buildFiles(dir: string, withInputs: boolean, cache: Cache): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const need = async (rel: string, what: string) =>
    readFile(join(dir, rel)).catch(() => {
      throw new InputError(`--build ${dir}: no ${rel} (${what}); publish the directory \`build --out\` wrote`);
    });
  files.set('build-record.json', await need('build-record.json', 'the build record'));
  const mBytes = await need('measurements.json', 'the measurements');
  files.set('measurements.json', mBytes);
  const source = await readdir(join(dir, SOURCE_DIR)).catch(() => [] as string[]);
  for (const n of source.sort()) files.set(n, await readFile(join(dir, SOURCE_DIR, n)));
  const lockName = source.find((n) => n.endsWith('.lock.json'));
  if (!lockName || !source.some((n) => /\.ya?ml$/.test(n)))
    throw new InputError(`--build ${dir}: no ${SOURCE_DIR}/ recipe and lock (built by an older cvm-measure? build again)`);
  const m = JSON.parse(mBytes.toString('utf8')) as MeasurementsDocument;
  for (const a of m.artifacts) {
    const rel = a.path ?? a.name;
    if (!isReleaseFileName(rel))
      throw new InputError(`--build ${dir}: artifact ${a.name}: path ${JSON.stringify(rel)} is not a file of the build directory itself`);
    const b = await need(rel, `artifact ${a.name}`);
    if (sha256(b) !== a.sha256) throw new InputError(`--build ${dir}: ${a.path}: sha256 differs from measurements.json (rebuilt since?)`);
    files.set(`artifact-${a.path ?? a.name}`, b);
  }
  if (withInputs) {
    const lock = JSON.parse(files.get(lockName)!.toString('utf8')) as Lock;
    for (const i of lockedBlobs(lock)) files.set(inputFile(i.sha256), await cache.readBlob(i.sha256, `--with-inputs: ${i.name}`));
  }
  return files;
}

/** The current signed index, verified with the publishing keys; undefined for a new repository. */
async function currentIndex(repo: string, signers: readonly Signer[]): Promise<{ index: RepositoryIndex; sha256: string } | undefined> {
  if (!(await exists(join(repo, INDEX_FILE)))) return undefined;
  const [bytes, env] = await Promise.all([readFile(join(repo, INDEX_FILE)), readFile(join(repo, INDEX_ENVELOPE))]).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`${repo}: ${INDEX_FILE} without a readable ${INDEX_ENVELOPE} (${e.code ?? e.message}): not a repository this key can publish to`);
  });
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
 * Runs `fn` holding the repository lock, after clearing what an interrupted publish left, with the
 * current verified index (undefined for a new repository).
 */
async function inRepository<T>(repo: string, signers: readonly Signer[], fn: (cur: Awaited<ReturnType<typeof currentIndex>>) => Promise<T>): Promise<T> {
  if (signers.length === 0) throw new InputError('publish: no repository signing key');
  await mkdir(repo, { recursive: true });
  const unlock = await lock(repo);
  try {
    // staging left by an interrupted publish (we hold the lock: no other publish is running)
    // (and temporary files of an interrupted index or index.html write)
    for (const n of await readdir(repo))
      if (n.startsWith('.staging-') || /^\.index\.(json|intoto\.json|html)\.\d+\.\d+\.tmp$/.test(n)) await rm(join(repo, n), { recursive: true, force: true });
    return await fn(await currentIndex(repo, signers));
  } finally {
    await unlock();
  }
}

const isoSeconds = (now: Date | undefined) => (now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * Writes the next signed index: the envelope (which also names the previous index) first, then
 * index.json; then the pages, a view of the index just signed (a crash there leaves them for the next publish to redo).
 */
async function commitIndex(
  repo: string,
  cur: Awaited<ReturnType<typeof currentIndex>>,
  releases: ReleaseEntry[],
  signers: readonly Signer[],
  timestamp: string,
): Promise<{ version: number; sha256: string }> {
  const index: RepositoryIndex = { schema: REPOSITORY_SCHEMA, version: (cur?.index.version ?? 0) + 1, timestamp, releases };
  const bytes = canonicalBytes(index);
  const env = await signIndex(bytes, index.version, signers, cur ? { version: cur.index.version, sha256: cur.sha256 } : undefined);
  await writeFileAtomic(join(repo, INDEX_ENVELOPE), env);
  await testPause();
  await writeFileAtomic(join(repo, INDEX_FILE), bytes);
  await writeSite(repo, index, signers);
  return { version: index.version, sha256: sha256(bytes) };
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
  const files = await releaseFiles(outDir);
  if (o.build) for (const [n, b] of await buildFiles(o.build, o.withInputs ?? false, o.cache ?? new Cache())) files.set(n, b);
  // every name must be one the signed index can hold, or the published repository would not verify
  const bad = [...files.keys()].filter((n) => !isReleaseFileName(n));
  if (bad.length > 0)
    throw new InputError(
      `release files ${bad.map((n) => JSON.stringify(n)).join(', ')}: not names a release can hold (letters, digits and ._+- in one segment; not index.html)`,
    );
  const entries: Record<string, FileEntry> = Object.fromEntries([...files].map(([n, b]) => [n, { sha256: sha256(b), size: b.length }]));
  const rvWhat = join(outDir, 'reference-values.intoto.json');
  // the predicate is the reference-values document plus its validity window: schema-checked before its lookups are derived
  const { validity: _, ...rv } = referenceValuesOf(files.get('reference-values.intoto.json')!, rvWhat) as ReferenceValues & { validity?: unknown };
  const lookups = lookupsFor(importReferenceValues(rv, rvWhat));
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

  return inRepository(o.repo, o.signers, async (cur) => {
    const published = cur?.index.releases.find((r) => r.name === o.name && r.version === o.version);
    if (published) {
      if (canonicalBytes(published.files).equals(canonicalBytes(entries))) {
        await writeSite(o.repo, cur!.index, o.signers);
        return result(cur!.index.version, cur!.sha256, true);
      }
      throw new InputError(`${o.name}@${o.version} is already published with other contents: published versions are immutable (publish a new version)`);
    }
    // 1. stage the release inside the repository (same file system: renames are atomic)
    const staging = await mkdtemp(join(o.repo, '.staging-'));
    try {
      for (const [n, b] of files) await writeFileAtomic(join(staging, 'release', n), b);
      await testPause();
      // 2. rename it into place; a directory no index names (left by an interrupted publish) is replaced
      const target = join(o.repo, path);
      await mkdir(join(o.repo, 'releases', o.name), { recursive: true });
      if (await exists(target)) await rename(target, join(staging, 'stale'));
      await rename(join(staging, 'release'), target);
      await testPause();
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
      await testPause();
      // 4. the signed index, last (then the pages)
      const timestamp = isoSeconds(o.now);
      const next = await commitIndex(
        o.repo,
        cur,
        [...(cur?.index.releases ?? []), { name: o.name, version: o.version, path, published: timestamp, files: entries }],
        o.signers,
        timestamp,
      );
      return result(next.version, next.sha256, false);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  });
}

export interface PublishAttestationsResult {
  repo: string;
  indexVersion: number;
  indexSha256: string;
  keyIds: string[];
  /** True when every attestation was already listed (nothing written). */
  unchanged: boolean;
  attestations: (AttestationEntry & { name: string; version: string })[];
}

/**
 * Adds rebuild attestations to published releases: each is stored as
 * attestations/<name>/<version>/rebuild-<sha16>.intoto.json and listed in the release's index entry.
 * The signature is not checked here (a consumer checks it with the rebuilder keys it trusts), but the
 * attestation must name a published release and each of its subjects that release's file of that name
 * with the same digest.
 * @throws {InputError} for an unreadable attestation, one for a release that is not published, or one
 * whose subjects are not that release's files.
 */
export async function publishAttestations(
  attestations: readonly { path: string; bytes: Buffer }[],
  o: Omit<PublishOptions, 'name' | 'version'>,
): Promise<PublishAttestationsResult> {
  const read = attestations.map((a) => ({ ...a, ...readAttestation(a.bytes.toString('utf8'), a.path) }));
  return inRepository(o.repo, o.signers, async (cur) => {
    const releases = (cur?.index.releases ?? []).map((r) => ({ ...r }));
    const listed: PublishAttestationsResult['attestations'] = [];
    let added = 0;
    for (const a of read) {
      const { name, version } = a.predicate.release;
      const r = releases.find((x) => x.name === name && x.version === version);
      if (!r) throw new InputError(`${a.path}: ${name}@${version} is not published in ${o.repo}`);
      for (const s of a.statement.subject)
        if (r.files[s.name]?.sha256 !== s.digest.sha256)
          throw new InputError(`${a.path}: subject ${s.name} is not the file of ${name}@${version} (another release's attestation?)`);
      const entry: AttestationEntry = {
        path: attestationPath(name, version, sha256(a.bytes)),
        keyid: a.keyids[0] ?? '',
        verdict: a.predicate.verdict === 'match' ? 'match' : 'mismatch',
      };
      listed.push({ name, version, ...entry });
      if (r.attestations?.some((x) => x.path === entry.path)) continue;
      await writeFileAtomic(join(o.repo, entry.path), a.bytes);
      r.attestations = [...(r.attestations ?? []), entry];
      added++;
    }
    if (added === 0 && cur)
      return {
        repo: o.repo,
        indexVersion: cur.index.version,
        indexSha256: cur.sha256,
        keyIds: o.signers.map((s) => s.keyId),
        unchanged: true,
        attestations: listed,
      };
    const next = await commitIndex(o.repo, cur, releases, o.signers, isoSeconds(o.now));
    return {
      repo: o.repo,
      indexVersion: next.version,
      indexSha256: next.sha256,
      keyIds: o.signers.map((s) => s.keyId),
      unchanged: false,
      attestations: listed,
    };
  });
}
