/**
 * The repository's signed index as data: index.json's structure (canonical JSON) and the checks that
 * tie it to the Statement its envelope signs (predicate type, index.json's sha256 as a subject, the
 * signed version). No node: import: Node (./repository.ts) and the repository page's verifier
 * (src/verify/repository.ts) check an index with this same code after checking the signature.
 */
import { FormatError, InputError, VerificationError } from '../errors.js';
import { checkStatement, type Statement, TAG_PREFIX } from '../manifest/intoto.js';
import type { ReferenceValues } from '../manifest/model.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { parseEnvelope, strictBase64 } from '../sign/envelope.js';
import { bytesEqual, toHex, utf8 } from '../util/bytes.js';
import { digest } from '../util/hash.js';

export const REPOSITORY_SCHEMA = 'cvm-measure/repository/v1';
export const INDEX_PREDICATE = `${TAG_PREFIX}repository/v1`;
export const INDEX_FILE = 'index.json';
export const INDEX_ENVELOPE = 'index.intoto.json';
/** Limits a fetch enforces (bytes). */
export const MAX_INDEX_BYTES = 4 << 20;
export const MAX_FILE_BYTES = 256 << 20;

export interface FileEntry {
  sha256: string;
  size: number;
}

/** A rebuild attestation published for a release (listed, not vouched for: a consumer verifies it with its rebuilder keys). */
export interface AttestationEntry {
  /** attestations/<name>/<version>/rebuild-<first 16 hex of its sha256>.intoto.json */
  path: string;
  /** The signature's keyid hint (sha256 of the rebuilder's SPKI). */
  keyid: string;
  verdict: 'match' | 'mismatch';
}

export interface ReleaseEntry {
  name: string;
  version: string;
  /** releases/<name>/<version> */
  path: string;
  /** When the release was published (ISO 8601 UTC; absent in indexes written before it was recorded). */
  published?: string;
  /** File name inside `path` → digest and size. */
  files: Record<string, FileEntry>;
  /** Rebuild attestations added by `publish --attestation`. */
  attestations?: AttestationEntry[];
}

export interface RepositoryIndex {
  schema: typeof REPOSITORY_SCHEMA;
  /** Grows by one with every publish; a client refuses a lower one than it has seen. */
  version: number;
  timestamp: string;
  releases: ReleaseEntry[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/** A file name a release can hold: one safe path segment, and not the page the site writes beside them. */
export const isReleaseFileName = (n: string): boolean => FILE.test(n) && n !== 'index.html';

/** A release name or version: one path segment of safe characters. @throws errorClass */
export function checkName(what: string, v: unknown, errorClass: new (m: string) => Error = InputError): string {
  if (typeof v !== 'string' || !NAME.test(v))
    throw new errorClass(`${what} ${JSON.stringify(v)}: use 1-128 characters of A-Z a-z 0-9 . _ + - starting with a letter or digit`);
  return v;
}

export const releasePath = (name: string, version: string) => `releases/${name}/${version}`;
export const attestationPath = (name: string, version: string, sha256: string) => `attestations/${name}/${version}/rebuild-${sha256.slice(0, 16)}.intoto.json`;
export const sha256 = (b: Uint8Array) => toHex(digest('sha256', b));

/** Structure of index.json (after its digest was checked against the signature). @throws FormatError */
export function parseIndex(bytes: Uint8Array, what = INDEX_FILE): RepositoryIndex {
  const bad = (m: string) => new FormatError(what, m);
  let doc: RepositoryIndex;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes)) as RepositoryIndex;
  } catch {
    throw bad('not JSON');
  }
  if (doc?.schema !== REPOSITORY_SCHEMA) throw bad(`schema must be ${REPOSITORY_SCHEMA}`);
  if (!Number.isSafeInteger(doc.version) || doc.version < 1) throw bad('version must be a positive integer');
  if (typeof doc.timestamp !== 'string' || !Array.isArray(doc.releases)) throw bad('expected {schema, version, timestamp, releases[]}');
  const seen = new Set<string>();
  for (const [i, r] of doc.releases.entries()) {
    checkName(`${what}: releases[${i}].name`, r?.name, VerificationError);
    checkName(`${what}: releases[${i}].version`, r.version, VerificationError);
    if (r.path !== releasePath(r.name, r.version)) throw bad(`releases[${i}].path must be ${releasePath(r.name, r.version)}`);
    if (seen.has(r.path)) throw bad(`releases[${i}]: ${r.name}@${r.version} listed twice`);
    seen.add(r.path);
    if (r.published !== undefined && typeof r.published !== 'string') throw bad(`releases[${i}].published must be a string`);
    if (!r.files || typeof r.files !== 'object' || Object.keys(r.files).length === 0) throw bad(`releases[${i}].files must name at least one file`);
    for (const [f, e] of Object.entries(r.files)) {
      if (!FILE.test(f)) throw bad(`releases[${i}].files: unsafe file name ${JSON.stringify(f)}`);
      if (!/^[0-9a-f]{64}$/.test(String(e?.sha256)) || !Number.isSafeInteger(e.size) || e.size < 0 || e.size > MAX_FILE_BYTES)
        throw bad(`releases[${i}].files[${JSON.stringify(f)}]: expected {sha256, size}`);
    }
    if (r.attestations !== undefined) {
      if (!Array.isArray(r.attestations)) throw bad(`releases[${i}].attestations must be an array`);
      const dir = `attestations/${r.name}/${r.version}/`;
      for (const [j, a] of r.attestations.entries())
        if (
          typeof a?.path !== 'string' ||
          !a.path.startsWith(dir) ||
          !/^rebuild-[0-9a-f]{16}\.intoto\.json$/.test(a.path.slice(dir.length)) ||
          typeof a.keyid !== 'string' ||
          (a.verdict !== 'match' && a.verdict !== 'mismatch')
        )
          throw bad(
            `releases[${i}].attestations[${j}]: expected {path: ${attestationPath(r.name, r.version, 'x'.repeat(16))}, keyid, verdict: match|mismatch}`,
          );
    }
  }
  if (!bytesEqual(utf8(canonicalJson(doc)), bytes)) throw bad('not canonical JSON');
  return doc;
}

/**
 * After the envelope's signature verified: its Statement must be an index statement naming
 * index.json's sha256 as a subject, with the index's version signed; then index.json is parsed.
 * @throws {VerificationError} naming what does not match; {FormatError} for a malformed index.
 */
export function checkSignedIndex(
  st: Pick<Statement, 'predicateType' | 'subject' | 'predicate'>,
  indexBytes: Uint8Array,
): { index: RepositoryIndex; sha256: string } {
  if (st.predicateType !== INDEX_PREDICATE) throw new VerificationError(`${INDEX_ENVELOPE}: predicateType is not ${INDEX_PREDICATE}`);
  const hex = sha256(indexBytes);
  if (!st.subject.some((s) => s.digest.sha256 === hex))
    throw new VerificationError(`${INDEX_FILE}: sha256 ${hex.slice(0, 16)}… is not the signed subject of ${INDEX_ENVELOPE}`);
  const index = parseIndex(indexBytes);
  const signed = (st.predicate as { version?: unknown; previous?: { version?: unknown; sha256?: unknown } }) ?? {};
  const signedVersion = signed.previous?.sha256 === hex ? signed.previous.version : signed.version;
  if (signedVersion !== index.version)
    throw new VerificationError(`${INDEX_FILE}: version ${index.version} is not the signed version ${String(signedVersion)}`);
  return { index, sha256: hex };
}

/** Checks a release file's bytes against the signed index entry. @throws {VerificationError} when its size or sha256 differs. */
export function checkReleaseFile(release: ReleaseEntry, name: string, bytes: Uint8Array): void {
  const rel = `${release.path}/${name}`;
  const e = release.files[name];
  if (!e) throw new VerificationError(`${rel}: not a file of the signed release`);
  if (bytes.length !== e.size) throw new VerificationError(`${rel}: ${bytes.length} bytes, the signed index says ${e.size}`);
  const got = sha256(bytes);
  if (got !== e.sha256) throw new VerificationError(`${rel}: sha256 ${got.slice(0, 16)}… is not the signed ${e.sha256.slice(0, 16)}…`);
}

/** The reference values in a release's reference-values.intoto.json, read without verifying its own signature (the publisher vouches through the index). @throws {InputError} for anything but a DSSE envelope of an in-toto Statement. */
export function referenceValuesOf(envelope: Uint8Array, what: string): ReferenceValues {
  try {
    const env = parseEnvelope(JSON.parse(new TextDecoder().decode(envelope)));
    return checkStatement(JSON.parse(new TextDecoder().decode(strictBase64(env.payload, 'payload'))), what).predicate as ReferenceValues;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: not a DSSE envelope of an in-toto Statement`);
  }
}
