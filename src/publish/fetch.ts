/**
 * fetchRepository: reads a repository (http://, https:// or a directory), verifies the signed
 * index (trusted keys, k-of-n; index.json's sha256 is the signed subject), refuses a rollback
 * below the version last seen, downloads the chosen releases and checks each file's sha256 and
 * size against the index — all before anything is written — then writes them atomically.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CvmError, InputError, UsageError, VerificationError } from '../errors.js';
import { readBuildRecord } from '../manifest/create.js';
import { importMeasurements } from '../manifest/import.js';
import { type MeasurementsDocument, type ReferenceValues, referenceValuesFrom } from '../manifest/model.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { referenceValuesOf } from './index-format.js';
import { type CheckedAttestation, checkAttestation, checkRebuildThreshold, releaseValues } from '../manifest/rebuild-attestation.js';
import { getBytes } from '../util/download.js';
import { exists, writeFileAtomic } from '../util/fs.js';
import { parseJsonInput } from '../util/json.js';
import { canonicalBytes, INDEX_ENVELOPE, INDEX_FILE, MAX_FILE_BYTES, MAX_INDEX_BYTES, type ReleaseEntry, sha256, verifyIndex } from './repository.js';

export const STATE_FILE = '.cvm-repository-state.json';
export const DEFAULT_TIMEOUT_MS = 30_000;

export interface FetchOptions {
  trusted: readonly KeyObject[];
  threshold?: number;
  /** Where the verified index and releases go; nothing is written without it. */
  out?: string;
  /** NAME or NAME@VERSION (default: every release). NAME alone is its latest published version. */
  release?: string;
  /** Without `release`: only the release published last (instead of every release). */
  latest?: boolean;
  /** The last index version seen (default: OUT/.cvm-repository-state.json). */
  stateFile?: string;
  /** Connect / idle and total deadline of each request (default 30 s). */
  timeoutMs?: number;
  maxIndexBytes?: number;
  maxFileBytes?: number;
  /** Trusted rebuilder keys: each chosen release needs `rebuildThreshold` of them attesting `match` for every value. */
  rebuilders?: readonly KeyObject[];
  rebuildThreshold?: number;
}

/** The rebuild confirmations of one release (fetch --rebuilders). */
export interface RebuildCheck {
  name: string;
  version: string;
  threshold: number;
  /** Distinct rebuilder keys that confirmed every value. */
  keyIds: string[];
  values: number;
  attestations: number;
  /** Listed attestations that were not counted, and why (untrusted or bad signature, another release). */
  refused: { path: string; reason: string }[];
}

export interface FetchResult {
  source: string;
  indexVersion: number;
  indexSha256: string;
  timestamp: string;
  keyIds: string[];
  out?: string;
  releases: { name: string; version: string; path: string; files: number }[];
  downloaded: number;
  cached: number;
  rebuilds?: RebuildCheck[];
}

interface State {
  version: number;
  sha256: string;
}

export const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** A reader of repository-relative paths with limits; `source` is a URL or a directory. */
function reader(source: string, timeoutMs: number): (rel: string, max: number) => Promise<Buffer> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !isUrl(source)) throw new UsageError(`${source}: only http://, https:// and directory paths are supported`);
  if (isUrl(source)) {
    const base = source.endsWith('/') ? source : `${source}/`;
    return (rel, max) => getBytes(new URL(rel, base).href, rel, { timeoutMs, maxBytes: max });
  }
  return async (rel, max) => {
    const file = join(source, rel);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (e) {
      throw new InputError(`${rel}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    if (size > max) throw new InputError(`${rel}: ${file}: ${size} bytes, more than the limit of ${max}`);
    return readFile(file);
  };
}

async function readState(file: string): Promise<State | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let s: State | undefined;
  try {
    s = JSON.parse(text) as State;
  } catch {
    s = undefined;
  }
  if (!Number.isSafeInteger(s?.version) || typeof s?.sha256 !== 'string') throw new InputError(`${file}: not a repository state file`);
  return s;
}

function choose(releases: readonly ReleaseEntry[], spec: string | undefined): ReleaseEntry[] {
  if (spec === undefined) return [...releases];
  const at = spec.lastIndexOf('@');
  const [name, version] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, undefined];
  const hits = releases.filter((r) => r.name === name && (version === undefined || r.version === version));
  if (hits.length === 0) throw new InputError(`release ${spec} is not in the repository index`);
  return [hits[hits.length - 1]!];
}

/**
 * Fetches a repository (URL or directory) into `o.out`: the index signature (k-of-n trusted keys), the
 * signed digest, no rollback, every file's size and sha256 — all checked before anything is written.
 * @throws {VerificationError} for a bad signature, digest or rollback; {InputError} for an unreachable,
 * oversized or malformed source; {UsageError} for conflicting options.
 */
export async function fetchRepository(source: string, o: FetchOptions): Promise<FetchResult> {
  if (o.trusted.length === 0) throw new UsageError('--trust: at least one public key is needed');
  const read = reader(source, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const maxIndex = o.maxIndexBytes ?? MAX_INDEX_BYTES;
  // index.json first: a publish in between renames the envelope (which still names the previous index) before index.json
  const indexBytes = await read(INDEX_FILE, maxIndex);
  const envBytes = await read(INDEX_ENVELOPE, maxIndex);
  const v = verifyIndex(indexBytes, envBytes, o.trusted, o.threshold ?? 1);

  const stateFile = o.stateFile ?? (o.out ? join(o.out, STATE_FILE) : undefined);
  const seen = stateFile ? await readState(stateFile) : undefined;
  if (seen && v.index.version < seen.version)
    throw new VerificationError(`${INDEX_FILE}: version ${v.index.version} is older than version ${seen.version} already seen (rollback refused)`);
  if (seen && v.index.version === seen.version && v.sha256 !== seen.sha256)
    throw new VerificationError(`${INDEX_FILE}: version ${v.index.version} differs from the version ${seen.version} already seen (fork refused)`);

  const chosen = o.latest && o.release === undefined ? v.index.releases.slice(-1) : choose(v.index.releases, o.release);
  if (chosen.length === 0) throw new InputError(`${source}: the repository has no releases`);
  // every file, from the cache when its digest is there, else downloaded; all checked before any write
  const blobs = new Map<string, Buffer>();
  let downloaded = 0;
  let cached = 0;
  const cacheDir = o.out ? join(o.out, '.cache', 'sha256') : undefined;
  for (const r of chosen) {
    for (const [name, e] of Object.entries(r.files)) {
      if (blobs.has(e.sha256)) continue;
      const hit = cacheDir ? await readFile(join(cacheDir, e.sha256)).catch(() => undefined) : undefined;
      if (hit && hit.length === e.size && sha256(hit) === e.sha256) {
        blobs.set(e.sha256, hit);
        cached++;
        continue;
      }
      const rel = `${r.path}/${name}`;
      const b = await read(rel, Math.min(e.size, o.maxFileBytes ?? MAX_FILE_BYTES));
      if (b.length !== e.size) throw new VerificationError(`${rel}: ${b.length} bytes, the signed index says ${e.size}`);
      if (sha256(b) !== e.sha256) throw new VerificationError(`${rel}: sha256 ${sha256(b).slice(0, 16)}… is not the signed ${e.sha256.slice(0, 16)}…`);
      blobs.set(e.sha256, b);
      downloaded++;
    }
  }

  const rebuilds: RebuildCheck[] = [];
  if (o.rebuilders) for (const r of chosen) rebuilds.push(await checkRebuilds(r, blobs, read, o.rebuilders, o.rebuildThreshold ?? 1));

  const result: FetchResult = {
    source,
    indexVersion: v.index.version,
    indexSha256: v.sha256,
    timestamp: v.index.timestamp,
    keyIds: v.keyIds,
    ...(o.out ? { out: o.out } : {}),
    releases: chosen.map((r) => ({ name: r.name, version: r.version, path: r.path, files: Object.keys(r.files).length })),
    downloaded,
    cached,
    ...(o.rebuilders ? { rebuilds } : {}),
  };
  if (o.out) await writeOut(o.out, chosen, blobs, indexBytes, envBytes);
  if (stateFile) await writeFileAtomic(stateFile, canonicalBytes({ version: v.index.version, sha256: v.sha256 }));
  return result;
}

/**
 * A release's measurements.json, and the check that its signed reference values are exactly what that file
 * (with its build record, when the values name one) gives: a value only reference-values.intoto.json holds —
 * the one consumers look up — would be trusted without any rebuild confirming it.
 * @throws {VerificationError} when they differ; {InputError} for a malformed measurements.json.
 */
function releaseMeasurements(r: ReleaseEntry, blobs: Map<string, Buffer>): MeasurementsDocument {
  const file = (n: string) => (r.files[n] ? blobs.get(r.files[n].sha256) : undefined);
  const what = `${r.name}@${r.version}`;
  const m = importMeasurements(parseJsonInput(file('measurements.json')!, `${what} measurements.json`));
  if (!('schema' in m)) throw new InputError(`${what}: measurements.json is one measurement, not a build's measurements document`);
  const rvBytes = file('reference-values.intoto.json');
  if (!rvBytes) throw new VerificationError(`${what}: no reference-values.intoto.json to check against its measurements.json`);
  const { validity: _, ...published } = referenceValuesOf(rvBytes, `${what} reference-values.intoto.json`) as ReferenceValues & { validity?: unknown };
  const br = published.buildRecord && file('build-record.json');
  const derived = referenceValuesFrom(m, br ? readBuildRecord(br) : undefined);
  if (canonicalJson(derived) !== canonicalJson(published))
    throw new VerificationError(
      `${what}: its signed reference values are not the ones its measurements.json${br ? ' and build record' : ''} give; a rebuild confirms only the latter`,
    );
  return m;
}

/**
 * Checks a release's listed rebuild attestations with the trusted rebuilder keys: each bound to this
 * release's files; `threshold` distinct keys must attest `match` for every value of its measurements.json.
 * @throws {VerificationError} naming the values short of confirmations and the attestations refused.
 */
async function checkRebuilds(
  r: ReleaseEntry,
  blobs: Map<string, Buffer>,
  read: (rel: string, max: number) => Promise<Buffer>,
  rebuilders: readonly KeyObject[],
  threshold: number,
): Promise<RebuildCheck> {
  const m = r.files['measurements.json'];
  if (!m) throw new VerificationError(`${r.name}@${r.version}: the release carries no measurements.json, so no rebuild can confirm its values`);
  const measurements = releaseMeasurements(r, blobs);
  const values = releaseValues(measurements);
  const checked: CheckedAttestation[] = [];
  const refused: RebuildCheck['refused'] = [];
  for (const a of r.attestations ?? []) {
    try {
      checked.push(checkAttestation((await read(a.path, MAX_INDEX_BYTES)).toString('utf8'), rebuilders, r, a.path));
    } catch (e) {
      if (!(e instanceof CvmError)) throw e;
      refused.push({ path: a.path, reason: e.message });
    }
  }
  try {
    const t = checkRebuildThreshold(r, values, checked, threshold);
    return { name: r.name, version: r.version, threshold, keyIds: t.keyIds, values: t.values, attestations: checked.length, refused };
  } catch (e) {
    if (e instanceof Error && refused.length > 0) e.message += `; not counted: ${refused.map((x) => x.reason).join('; ')}`;
    throw e;
  }
}

/** Cache blobs, then each release directory (staged, renamed into place), then the index: a crash leaves the previous state readable. */
async function writeOut(out: string, chosen: readonly ReleaseEntry[], blobs: Map<string, Buffer>, indexBytes: Buffer, envBytes: Buffer): Promise<void> {
  await mkdir(out, { recursive: true });
  for (const [digest, b] of blobs) if (!(await exists(join(out, '.cache', 'sha256', digest)))) await writeFileAtomic(join(out, '.cache', 'sha256', digest), b);
  const staging = await mkdtemp(join(out, '.staging-'));
  try {
    for (const r of chosen) {
      const target = join(out, r.path);
      const same = await Promise.all(
        Object.entries(r.files).map(async ([n, e]) => sha256(await readFile(join(target, n)).catch(() => Buffer.alloc(0))) === e.sha256),
      );
      if (same.every(Boolean)) continue;
      const dir = join(staging, r.name, r.version);
      for (const [n, e] of Object.entries(r.files)) await writeFileAtomic(join(dir, n), blobs.get(e.sha256)!);
      await mkdir(join(out, 'releases', r.name), { recursive: true });
      if (await exists(target)) await rename(target, join(staging, `stale-${r.name}-${r.version}`));
      await rename(dir, target);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await writeFileAtomic(join(out, INDEX_ENVELOPE), envBytes);
  await writeFileAtomic(join(out, INDEX_FILE), indexBytes);
}
