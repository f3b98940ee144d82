/**
 * The static reference-value repository: its layout, the signed index (index.json, canonical JSON,
 * and index.intoto.json, a DSSE envelope of an in-toto Statement naming index.json's sha256) and
 * the by-measurement lookups. Any web server (or a plain directory) can hold it.
 */
import type { KeyObject } from 'node:crypto';
import { VerificationError } from '../errors.js';
import { STATEMENT_V1, statementBytes, type Statement } from '../manifest/intoto.js';
import type { ReferenceValues } from '../manifest/model.js';
import { verifyDsse } from '../manifest/verify.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../sign/dsse.js';
import type { Signer } from '../sign/signer.js';
import { checkSignedIndex, INDEX_ENVELOPE, INDEX_FILE, INDEX_PREDICATE, type RepositoryIndex, REPOSITORY_SCHEMA, sha256 } from './index-format.js';

export {
  type AttestationEntry,
  attestationPath,
  checkName,
  type FileEntry,
  INDEX_ENVELOPE,
  INDEX_FILE,
  INDEX_PREDICATE,
  isReleaseFileName,
  MAX_FILE_BYTES,
  MAX_INDEX_BYTES,
  parseIndex,
  referenceValuesOf,
  type ReleaseEntry,
  releasePath,
  type RepositoryIndex,
  REPOSITORY_SCHEMA,
  sha256,
} from './index-format.js';

export const LOOKUP_SCHEMA = 'cvm-measure/repository-lookup/v1';
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
  if (v.type !== 'dsse') throw new VerificationError(`${INDEX_ENVELOPE}: predicateType is not ${INDEX_PREDICATE}`);
  const { index, sha256 } = checkSignedIndex({ predicateType: v.predicateType, subject: v.subjects, predicate: v.predicate }, indexBytes);
  return { index, bytes: indexBytes, sha256, keyIds: v.keyIds };
}
