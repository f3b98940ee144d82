/**
 * Rebuild attestations: an independent rebuilder's signed statement that rebuilding a published release
 * gave the same artifacts and measurements. An in-toto Statement v1 in a DSSE envelope whose subjects
 * are the release's files (manifests, build record, measurements, artifacts; not the carried inputs)
 * and whose predicate names the release, the rebuilder key, the environment and, per artifact and per
 * measured value, `match | mismatch` with both digests. The shape follows OSS-Rebuild's
 * rebuild / artifact-equivalence build types where it fits: what was rebuilt (the release and its
 * recipe), by whom and where (rebuilder, environment), and the equivalence result per artifact.
 *
 * A consumer trusts a release's values only when K distinct trusted rebuilder keys (by public-key
 * identity, sha256 of the SPKI) attest `match` for every value, each attestation bound by digest to
 * this release's files (checkRebuildThreshold).
 */
import type { KeyObject } from 'node:crypto';
import { InputError, UsageError, VerificationError } from '../errors.js';
import type { Measurement } from '../measure/measurement.js';
import { parseEnvelope } from '../sign/dsse.js';
import { keyId } from '../sign/keys.js';
import { checkStatement, STATEMENT_V1, type Statement, TAG_PREFIX } from './intoto.js';
import type { MeasurementsDocument } from './model.js';
import { verifyDsse } from './verify.js';

/** predicateType of a rebuild attestation (a tag URI under TAG_PREFIX, docs/identifiers.md). */
export const REBUILD_PREDICATE = `${TAG_PREFIX}rebuild/v1`;

export type Verdict = 'match' | 'mismatch';

/** One artifact or measured value: the release's digest and the rebuild's (null when absent on that side). */
export interface ValueComparison {
  name: string;
  verdict: Verdict;
  expected: string | null;
  actual: string | null;
  /** On an artifact mismatch: which parts differ (cpio entry, PE section, firmware volume file). */
  parts?: string[];
}

export interface RebuildPredicate {
  release: { name: string; version: string; source?: string; indexSha256?: string };
  rebuilder: { keyId: string };
  environment: { backend: string | null; kernel: string; tool: string; node: string; variation: Record<string, unknown> };
  /** Where each pinned input came from: carried by the release, the rebuilder's cache, or a live mirror. */
  inputs: { name: string; sha256: string; from: 'release' | 'cache' | 'mirror' }[];
  verdict: Verdict;
  artifacts: ValueComparison[];
  measurements: ValueComparison[];
  startedOn: string;
  finishedOn: string;
  /** `rebuild --debian`: every file the binary package ships with its status (reproduced / differs / not attempted). */
  debian?: { files: readonly object[] };
}

/** A release file as the repository index lists it. */
export interface ReleaseFileDigest {
  sha256: string;
}

/** The release files an attestation covers: all but the carried inputs (`input-<sha256>`, content-addressed already). */
export const attestedFile = (name: string) => !name.startsWith('input-');

/**
 * Every value a release asserts, by a stable name: `artifact:<name>` → sha256, and each measured
 * value (SNP launch digest per VMM / vCPU type / count, TDX MRTD and RTMRs, PCR per shape / bank / index).
 */
export function releaseValues(doc: MeasurementsDocument): Map<string, string> {
  const out = new Map<string, string>();
  const add = (name: string, v: string | undefined) => {
    if (v === undefined) return;
    let n = name;
    for (let i = 2; out.has(n); i++) n = `${name}#${i}`;
    out.set(n, v.toLowerCase());
  };
  for (const a of doc.artifacts) add(`artifact:${a.name}`, a.sha256);
  for (const m of doc.measurements as Measurement[]) {
    if (m.kind === 'snp') for (const [n, d] of Object.entries(m.digests)) add(`snp:${m.vmm}/${m.vcpu?.type ?? 'any'}/${m.mode}/vcpus=${n}`, d);
    else if (m.kind === 'tdx') {
      add('tdx:mrtd', m.mrtd);
      for (const [i, v] of Object.entries(m.rtmr ?? {})) add(`tdx:rtmr${i}`, v);
    } else if (m.kind === 'td-shim') {
      add('td-shim:mrtd', m.shim?.mrtd);
      add('td-shim:payload', m.payload?.sha384);
      add('td-shim:param', m.param?.sha384);
    } else
      for (const [bank, regs] of Object.entries(m.pcrs))
        for (const [i, v] of Object.entries(regs as Record<string, string>)) add(`pcr:${m.boot.shape}${m.boot.secureBoot ? '+sb' : ''}/${bank}/${i}`, v);
  }
  return out;
}

/** Compares the release's values with the rebuild's, name by name (both directions). */
export function compareValues(expected: Map<string, string>, actual: Map<string, string>): ValueComparison[] {
  const names = [...expected.keys(), ...[...actual.keys()].filter((k) => !expected.has(k))];
  return names.map((name) => {
    const e = expected.get(name) ?? null;
    const a = actual.get(name) ?? null;
    return { name, verdict: e !== null && e === a ? 'match' : 'mismatch', expected: e, actual: a };
  });
}

/** The Statement a rebuilder signs: subjects = the release's attested files, predicate = the comparison. */
export function rebuildStatement(files: Record<string, ReleaseFileDigest>, predicate: RebuildPredicate): Statement {
  return {
    _type: STATEMENT_V1,
    subject: Object.entries(files)
      .filter(([n]) => attestedFile(n))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, e]) => ({ name, digest: { sha256: e.sha256 } })),
    predicateType: REBUILD_PREDICATE,
    predicate,
  };
}

/**
 * What an attestation says, read WITHOUT verifying its signature (for `publish`, which lists it; a
 * consumer verifies it with its trusted rebuilder keys, checkAttestation).
 * @throws {InputError} naming `what` when it is not a DSSE envelope of a rebuild Statement.
 */
export function readAttestation(text: string, what: string): { statement: Statement; predicate: RebuildPredicate; keyids: string[] } {
  let st: Statement;
  let keyids: string[];
  try {
    const env = parseEnvelope(JSON.parse(text));
    keyids = env.signatures.map((s) => s.keyid ?? '');
    st = checkStatement(JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')), what);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: not a DSSE envelope of an in-toto Statement`);
  }
  const p = st.predicate as Partial<RebuildPredicate> | undefined;
  if (st.predicateType !== REBUILD_PREDICATE || typeof p?.release?.name !== 'string' || typeof p.release.version !== 'string')
    throw new InputError(`${what}: not a rebuild attestation (predicateType ${REBUILD_PREDICATE} with a release)`);
  return { statement: st, predicate: p as RebuildPredicate, keyids };
}

export interface CheckedAttestation {
  /** Key ids of the trusted rebuilder keys that signed it. */
  keyIds: string[];
  release: { name: string; version: string };
  verdict: Verdict;
  /** value name → verdict and the release digest it was compared with. */
  values: Map<string, { verdict: Verdict; expected: string | null }>;
  subjects: Statement['subject'];
}

/** The release an attestation is checked against: its name, version and files (name → sha256). */
export interface ReleaseIdentity {
  name: string;
  version: string;
  files: Record<string, ReleaseFileDigest>;
}

/**
 * Verifies a rebuild attestation: signed by at least one of `trusted` (fail closed), the rebuild
 * predicate, and — with `release` — about that release: same name and version, and every subject the
 * release's file of that name with the same sha256 (its reference-values.intoto.json among them).
 * @throws {VerificationError} naming `what` for a bad or untrusted signature, or another release.
 * @throws {FormatError} when the bytes are not a DSSE envelope.
 * @throws {InputError} when the payload is not an in-toto Statement with a rebuild predicate.
 */
export function checkAttestation(text: string, trusted: readonly KeyObject[], release: ReleaseIdentity | undefined, what: string): CheckedAttestation {
  let v: ReturnType<typeof verifyDsse>;
  try {
    v = verifyDsse(text, { trusted });
  } catch (e) {
    if (e instanceof Error) e.message = `${what}: ${e.message}`;
    throw e;
  }
  if (v.type !== 'dsse' || v.predicateType !== REBUILD_PREDICATE) throw new VerificationError(`${what}: not a rebuild attestation (predicateType)`);
  const p = v.predicate as Partial<RebuildPredicate>;
  if (typeof p?.release?.name !== 'string' || typeof p.release.version !== 'string' || !Array.isArray(p.artifacts) || !Array.isArray(p.measurements))
    throw new InputError(`${what}: predicate lacks release, artifacts or measurements`);
  if (release) {
    const other = () =>
      new VerificationError(`${what}: an attestation for ${p.release!.name}@${p.release!.version}, not for ${release.name}@${release.version}`);
    if (p.release.name !== release.name || p.release.version !== release.version) throw other();
    for (const s of v.subjects) if (release.files[s.name]?.sha256 !== s.digest.sha256) throw other();
    for (const need of ['reference-values.intoto.json', 'measurements.json'])
      if (release.files[need] && !v.subjects.some((s) => s.name === need))
        throw new VerificationError(`${what}: does not name the release's ${need} as a subject`);
  }
  const values = new Map<string, { verdict: Verdict; expected: string | null }>();
  for (const c of [...p.artifacts, ...p.measurements])
    values.set(c.name, { verdict: c.verdict === 'match' ? 'match' : 'mismatch', expected: c.expected ?? null });
  return {
    keyIds: v.keyIds,
    release: { name: p.release.name, version: p.release.version },
    verdict: p.verdict === 'match' ? 'match' : 'mismatch',
    values,
    subjects: v.subjects,
  };
}

/**
 * Distinct rebuilder keys by public-key identity; a key given twice is refused (it would count twice).
 * @throws {UsageError} when two of `keys` are the same public key or `threshold` exceeds the keys.
 */
export function rebuilderKeys(keys: readonly { key: KeyObject; path: string }[], threshold: number): KeyObject[] {
  const seen = new Map<string, string>();
  for (const k of keys) {
    const id = keyId(k.key);
    if (seen.has(id)) throw new UsageError(`--rebuilders: ${k.path} and ${seen.get(id)} are the same key (${id.slice(0, 16)}…): a key counts once`);
    seen.set(id, k.path);
  }
  if (threshold < 1 || threshold > keys.length)
    throw new UsageError(`--rebuild-threshold ${threshold}: between 1 and the number of --rebuilders keys (${keys.length})`);
  return keys.map((k) => k.key);
}

export interface ThresholdResult {
  threshold: number;
  /** Distinct rebuilder key ids that confirmed every value. */
  keyIds: string[];
  values: number;
}

/**
 * Whether `threshold` distinct rebuilder keys attest `match` for every value of the release (each
 * comparison made against the release's own digest). Attestations must already be checked against
 * the release (checkAttestation).
 * @throws {VerificationError} naming the release, the first values short of confirmations and the count.
 */
export function checkRebuildThreshold(
  release: { name: string; version: string },
  values: Map<string, string>,
  attestations: readonly CheckedAttestation[],
  threshold: number,
): ThresholdResult {
  if (values.size === 0)
    throw new VerificationError(`${release.name}@${release.version}: its measurements.json holds no values, so no rebuild can confirm anything`);
  const short: { name: string; count: number }[] = [];
  let all: Set<string> | undefined;
  for (const [name, digest] of values) {
    const keys = new Set<string>();
    for (const a of attestations) {
      const v = a.values.get(name);
      if (v?.verdict === 'match' && v.expected === digest) for (const k of a.keyIds) keys.add(k);
    }
    if (keys.size < threshold) short.push({ name, count: keys.size });
    all = all ? new Set([...all].filter((k) => keys.has(k))) : keys;
  }
  if (short.length > 0) {
    // the least confirmed first: a mismatch (0) before a value only one attestation is missing for
    const named = short.sort((a, b) => a.count - b.count).map((x) => `${x.name} (${x.count} of ${threshold})`);
    throw new VerificationError(
      `rebuild threshold not met for ${release.name}@${release.version}: ${threshold} distinct rebuilder keys must attest match; missing confirmation of ${named.slice(0, 4).join(', ')}${named.length > 4 ? ` and ${named.length - 4} more values` : ''} (${attestations.length} trusted attestations)`,
    );
  }
  return { threshold, keyIds: [...(all ?? [])].sort(), values: values.size };
}

/**
 * For a consumer holding one signed file (a CoRIM, a DSSE envelope) rather than a repository release:
 * `threshold` distinct rebuilder keys must have signed attestations with verdict `match` (every
 * artifact and value of the release reproduced) that name this file's sha256 as a subject.
 * Attestations must already be checked (checkAttestation, without a release).
 * @throws {VerificationError} naming how many keys confirmed the file and the attestations not counted.
 */
export function checkFileRebuilds(sha256: string, attestations: readonly CheckedAttestation[], threshold: number): ThresholdResult {
  const keys = new Set<string>();
  const notCounted: string[] = [];
  for (const a of attestations) {
    const release = `${a.release.name}@${a.release.version}`;
    if (!a.subjects.some((s) => s.digest.sha256 === sha256)) notCounted.push(`${release}: does not name its sha256`);
    else if (a.verdict !== 'match') notCounted.push(`${release}: verdict mismatch`);
    else for (const k of a.keyIds) keys.add(k);
  }
  if (keys.size < threshold)
    throw new VerificationError(
      `rebuild threshold not met: ${threshold} distinct rebuilder keys must attest match for sha256 ${sha256.slice(0, 16)}…, ${keys.size} did${notCounted.length ? ` (not counted: ${notCounted.join('; ')})` : ''}`,
    );
  return { threshold, keyIds: [...keys].sort(), values: attestations.length };
}
