/**
 * The static reference-value repository: its layout, the signed index (index.json, canonical JSON,
 * and index.intoto.json, a DSSE envelope of an in-toto Statement naming index.json's sha256) and
 * the by-measurement lookups. Any web server (or a plain directory) can hold it.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { FormatError, InputError, VerificationError } from '../errors.js';
import { checkStatement, STATEMENT_V1, statementBytes, TAG_PREFIX, type Statement } from '../manifest/intoto.js';
import type { ReferenceValues } from '../manifest/model.js';
import { verifyDsse } from '../manifest/verify.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../sign/dsse.js';
import type { Signer } from '../sign/signer.js';

export const REPOSITORY_SCHEMA = 'cvm-measure/repository/v1';
export const LOOKUP_SCHEMA = 'cvm-measure/repository-lookup/v1';
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

export interface ReleaseEntry {
  name: string;
  version: string;
  /** releases/<name>/<version> */
  path: string;
  /** File name inside `path` → digest and size. */
  files: Record<string, FileEntry>;
}

export interface RepositoryIndex {
  schema: typeof REPOSITORY_SCHEMA;
  /** Grows by one with every publish; a client refuses a lower one than it has seen. */
  version: number;
  timestamp: string;
  releases: ReleaseEntry[];
}

export interface LookupEntry {
  name: string;
  version: string;
  parameters: Record<string, unknown>;
}

export interface Lookup {
  schema: typeof LOOKUP_SCHEMA;
  platform: 'snp' | 'tdx' | 'pcr';
  value: string;
  releases: LookupEntry[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

/** A release name or version: one path segment of safe characters. @throws errorClass */
export function checkName(what: string, v: unknown, errorClass: new (m: string) => Error = InputError): string {
  if (typeof v !== 'string' || !NAME.test(v))
    throw new errorClass(`${what} ${JSON.stringify(v)}: use 1-128 characters of A-Z a-z 0-9 . _ + - starting with a letter or digit`);
  return v;
}

export const releasePath = (name: string, version: string) => `releases/${name}/${version}`;
export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
export const canonicalBytes = (v: unknown) => Buffer.from(canonicalJson(v), 'utf8');

/**
 * The lookup files a release's reference values contribute: relative path → the value and the
 * release's parameters for it.
 */
export function lookupsFor(rv: ReferenceValues): { path: string; platform: Lookup['platform']; value: string; parameters: Record<string, unknown> }[] {
  const out: ReturnType<typeof lookupsFor> = [];
  for (const s of rv.snp)
    for (const [vcpus, d] of Object.entries(s.launchDigests))
      out.push({
        path: `by-measurement/snp/${d.toLowerCase()}.json`,
        platform: 'snp',
        value: d.toLowerCase(),
        parameters: { ...s.parameters, vcpus: Number(vcpus) },
      });
  for (const t of rv.tdx)
    out.push({ path: `by-measurement/tdx/${t.mrtd.toLowerCase()}.json`, platform: 'tdx', value: t.mrtd.toLowerCase(), parameters: { ...t.parameters } });
  for (const p of rv.pcr) {
    for (const [bank, pcrs] of Object.entries(p.banks).filter(([b]) => /^[a-z0-9]{1,16}$/.test(b))) {
      for (const [index, v] of Object.entries(pcrs))
        out.push({
          path: `by-measurement/pcr/${bank}/${v.toLowerCase()}.json`,
          platform: 'pcr',
          value: v.toLowerCase(),
          parameters: { ...p.parameters, pcr: Number(index) },
        });
    }
  }
  return out.filter((l) => /^[0-9a-f]{32,128}$/.test(l.value));
}

/** Signs index bytes: a Statement whose subjects are the new index and, while the new index.json is not yet renamed into place, the previous one. */
export async function signIndex(
  bytes: Uint8Array,
  version: number,
  signers: readonly Signer[],
  previous?: { version: number; sha256: string },
): Promise<Buffer> {
  const st: Statement = {
    _type: STATEMENT_V1,
    subject: [
      { name: INDEX_FILE, digest: { sha256: sha256(bytes) } },
      ...(previous ? [{ name: `${INDEX_FILE}@${previous.version}`, digest: { sha256: previous.sha256 } }] : []),
    ],
    predicateType: INDEX_PREDICATE,
    predicate: { schema: REPOSITORY_SCHEMA, version, ...(previous ? { previous } : {}) },
  };
  return canonicalBytes(await signEnvelope(INTOTO_PAYLOAD_TYPE, statementBytes(st), signers));
}

/** Structure of index.json (after its digest was checked against the signature). @throws FormatError */
export function parseIndex(bytes: Uint8Array, what = INDEX_FILE): RepositoryIndex {
  const bad = (m: string) => new FormatError(what, m);
  let doc: RepositoryIndex;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as RepositoryIndex;
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
    if (!r.files || typeof r.files !== 'object' || Object.keys(r.files).length === 0) throw bad(`releases[${i}].files must name at least one file`);
    for (const [f, e] of Object.entries(r.files)) {
      if (!FILE.test(f)) throw bad(`releases[${i}].files: unsafe file name ${JSON.stringify(f)}`);
      if (!/^[0-9a-f]{64}$/.test(String(e?.sha256)) || !Number.isSafeInteger(e.size) || e.size < 0 || e.size > MAX_FILE_BYTES)
        throw bad(`releases[${i}].files[${JSON.stringify(f)}]: expected {sha256, size}`);
    }
  }
  if (Buffer.compare(canonicalBytes(doc), Buffer.from(bytes)) !== 0) throw bad('not canonical JSON');
  return doc;
}

export interface VerifiedIndex {
  index: RepositoryIndex;
  bytes: Buffer;
  sha256: string;
  keyIds: string[];
}

/**
 * Verifies index.intoto.json (k-of-n trusted keys) and that index.json's sha256 is a subject of the
 * signed Statement, then parses the index. Nothing is trusted before both hold.
 * @throws VerificationError naming what failed
 */
export function verifyIndex(indexBytes: Buffer, envelopeBytes: Buffer, trusted: readonly KeyObject[], threshold = 1): VerifiedIndex {
  let v: ReturnType<typeof verifyDsse>;
  try {
    v = verifyDsse(envelopeBytes.toString('utf8'), { trusted, threshold });
  } catch (e) {
    if (e instanceof Error) e.message = `${INDEX_ENVELOPE}: ${e.message}`;
    throw e;
  }
  if (v.type !== 'dsse' || v.predicateType !== INDEX_PREDICATE) throw new VerificationError(`${INDEX_ENVELOPE}: predicateType is not ${INDEX_PREDICATE}`);
  const digest = sha256(indexBytes);
  if (!v.subjects.some((s) => s.digest.sha256 === digest))
    throw new VerificationError(`${INDEX_FILE}: sha256 ${digest.slice(0, 16)}… is not the signed subject of ${INDEX_ENVELOPE}`);
  const index = parseIndex(indexBytes);
  const signed = (v.predicate as { version?: unknown; previous?: { version?: unknown; sha256?: unknown } }) ?? {};
  const signedVersion = signed.previous?.sha256 === digest ? signed.previous.version : signed.version;
  if (signedVersion !== index.version)
    throw new VerificationError(`${INDEX_FILE}: version ${index.version} is not the signed version ${String(signedVersion)}`);
  return { index, bytes: indexBytes, sha256: digest, keyIds: v.keyIds };
}

/** The reference values in a release's reference-values.intoto.json, read without verifying (the publisher vouches through the index). */
export function referenceValuesOf(envelope: Uint8Array, what: string): ReferenceValues {
  try {
    const env = JSON.parse(Buffer.from(envelope).toString('utf8')) as { payload: string };
    const st = checkStatement(JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')), what);
    return st.predicate as ReferenceValues;
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: not a DSSE envelope of an in-toto Statement`);
  }
}
