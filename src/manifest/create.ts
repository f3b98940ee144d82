/**
 * `manifest create` as a library call: reference values → canonical JSON, signed CoRIMs, in-toto
 * DSSE envelopes, Trustee RVPS messages, written atomically into one directory.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { writeDirAtomic } from '../util/fs.js';
import { parseJsonInput } from '../util/json.js';
import { canonicalJson } from '../sign/canonical-json.js';
import { encodeCbor } from '../formats/cbor.js';
import { corimFor, signCorim, type CorimOptions, type Platform, type SnpProfile } from './corim.js';
import { INTOTO_PAYLOAD_TYPE, parseEnvelope, signEnvelope } from '../sign/dsse.js';
import { checkStatement, referenceValuesStatement, SLSA_PROVENANCE_V1, statementBytes } from './intoto.js';
import type { Measurement } from '../measure/measurement.js';
import { canonicalReferenceValues, referenceValuesFrom, type MeasurementsDocument, type ReferenceValues, type StatedValuesDocument } from './model.js';
import { rvpsCorimMessage, rvpsSampleMessage } from './rvps.js';
import { sigstoreBundle } from './sigstore.js';
import type { Signer } from '../sign/signer.js';

export type ManifestFormat = 'corim' | 'intoto' | 'rvps' | 'json';
export const MANIFEST_FORMATS: readonly ManifestFormat[] = ['corim', 'intoto', 'rvps', 'json'];
const PLATFORMS: readonly Platform[] = ['snp', 'tdx', 'pcr'];

export interface CreateManifestOptions {
  /** A build's measurements.json or one measurement (foreign JSON: through importMeasurements). */
  measurements?: MeasurementsDocument | Measurement;
  /** Reference values from elsewhere (importStatedValues), signed as `origin: stated` entries. */
  stated?: StatedValuesDocument;
  /** The build record: file bytes or parsed JSON (in-toto Statement with SLSA v1 predicate, or a DSSE envelope of one). */
  buildRecord?: Uint8Array | object;
  /** One signer, or several (every DSSE envelope gets all their signatures; CoRIM uses the first). */
  signer: Signer | readonly Signer[];
  outDir: string;
  formats?: readonly ManifestFormat[];
  /** corim-meta signer name, CWT iss, entity name. */
  issuer?: string;
  /** Start of the validity window (seconds since the epoch); default: the build record's finish time, then SOURCE_DATE_EPOCH, then 00:00 UTC today. */
  notBefore?: number;
  /** Length of the validity window in days (default 365). */
  validDays?: number;
  /** SNP CoRIM profile id (default 2024, what Veraison registers). */
  snpProfile?: SnpProfile;
}

export interface ManifestFile {
  format: ManifestFormat;
  path: string;
  sha256: string;
  size: number;
}

export interface CreatedManifest {
  referenceValues: ReferenceValues;
  /** sha256 of the canonical reference-values JSON. */
  referenceValuesSha256: string;
  keyIds: string[];
  notBefore: number;
  notAfter: number;
  files: ManifestFile[];
}

/** The build's Statement: the exact bytes signed in provenance.intoto.json (and hashed into the document) and its parse. */
interface BuildRecord {
  bytes: Uint8Array;
  statement: Record<string, unknown>;
}

/**
 * A build record: file bytes are kept as they are; an object is serialized as canonical JSON; a DSSE
 * envelope gives its payload.
 * @throws {InputError} for anything but an SLSA v1 provenance Statement.
 */
export function readBuildRecord(v: Uint8Array | object): BuildRecord {
  let bytes: Uint8Array = v instanceof Uint8Array ? v : Buffer.from(canonicalJson(v), 'utf8');
  let doc = v instanceof Uint8Array ? parseJsonInput(v, 'build record') : v;
  const d = doc as Record<string, unknown>;
  if (typeof d?.payloadType === 'string') {
    bytes = Buffer.from(parseEnvelope(d).payload, 'base64');
    doc = parseJsonInput(bytes, 'build record envelope payload');
  }
  const st = checkStatement(doc, 'build record');
  if (st.predicateType !== SLSA_PROVENANCE_V1) throw new InputError(`build record: predicateType must be ${SLSA_PROVENANCE_V1}, got ${st.predicateType}`);
  return { bytes, statement: doc as Record<string, unknown> };
}

/** When the signature's validity starts: the build's finish time, else SOURCE_DATE_EPOCH, else today 00:00 UTC. */
function defaultNotBefore(br?: BuildRecord): number {
  const md = (br?.statement.predicate as { runDetails?: { metadata?: { finishedOn?: string; startedOn?: string } } } | undefined)?.runDetails?.metadata;
  const t = Date.parse(md?.finishedOn ?? md?.startedOn ?? '');
  if (Number.isFinite(t)) return Math.floor(t / 1000);
  const sde = process.env.SOURCE_DATE_EPOCH;
  if (sde !== undefined && /^\d+$/.test(sde)) return Number(sde);
  const now = Math.floor(Date.now() / 1000);
  return now - (now % 86400);
}

/** The names createManifest writes; a directory holding anything else is not replaced. */
const MANIFEST_FILE =
  /^(reference-values\.json|(snp|tdx|pcr)\.corim(-unsigned)?\.cbor|(reference-values|provenance)\.(intoto|sigstore)\.json|rvps-(sample|corim-(snp|tdx|pcr))\.json)$/;

/** `outDir` is replaced as a whole: it must be new, or an earlier output (only manifest files). */
async function checkOutDir(outDir: string): Promise<void> {
  const names = await readdir(outDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [];
    throw new InputError(`--out ${outDir}: not a directory this can write (${e.code ?? String(e)})`);
  });
  const foreign = names.filter((n) => !MANIFEST_FILE.test(n));
  if (foreign.length > 0)
    throw new InputError(
      `--out ${outDir}: holds ${JSON.stringify(foreign[0])}, which manifest create did not write; the directory is replaced as a whole, so give a new or empty one`,
    );
}

/**
 * Derives the reference values from `measurements`, signs them in each requested format (CoRIM per
 * platform, in-toto DSSE + sigstore bundle, RVPS messages, canonical reference-values.json) and writes
 * the files to `outDir` as a unit: `outDir` is replaced as a whole (see writeDirAtomic), so a reader sees
 * the previous set or the new one, never a mix.
 * @throws {InputError} with no signer, an empty validity window, a bad build record, a measurement
 * that cannot be signed (see referenceValuesFrom), or an `outDir` holding files it did not write.
 * @throws {BuildError} or {VerificationError} from a commandSigner whose command fails or returns a bad signature.
 */
export async function createManifest(o: CreateManifestOptions): Promise<CreatedManifest> {
  const signers = Array.isArray(o.signer) ? (o.signer as readonly Signer[]) : [o.signer as Signer];
  if (signers.length === 0) throw new InputError('manifest: no signing key');
  const formats = new Set(o.formats ?? MANIFEST_FORMATS);
  const br = o.buildRecord === undefined ? undefined : readBuildRecord(o.buildRecord);
  if (!o.measurements && !o.stated) throw new InputError('manifest: nothing to sign: give measurements or stated values');
  const rv = referenceValuesFrom(o.measurements, br, o.stated);
  const doc = canonicalReferenceValues(rv);
  const docSha = createHash('sha256').update(doc).digest('hex');
  const notBefore = o.notBefore ?? defaultNotBefore(br);
  const notAfter = notBefore + Math.round((o.validDays ?? 365) * 86400);
  if (notAfter <= notBefore) throw new InputError('manifest: validity window is empty');
  const copts: CorimOptions = { issuer: o.issuer ?? 'cvm-measure', notBefore, notAfter, ...(o.snpProfile ? { snpProfile: o.snpProfile } : {}) };

  const outputs: { format: ManifestFormat; name: string; data: Uint8Array }[] = [];
  const json = (v: unknown) => Buffer.from(canonicalJson(v), 'utf8');
  if (formats.has('json')) outputs.push({ format: 'json', name: 'reference-values.json', data: doc });
  const corims = new Map<Platform, Uint8Array>();
  const unsigned = new Map<Platform, Uint8Array>();
  if (formats.has('corim') || formats.has('rvps')) {
    for (const p of PLATFORMS) {
      const c = corimFor(p, rv, docSha, copts);
      if (!c) continue;
      corims.set(p, await signCorim(c, signers[0]!, copts));
      unsigned.set(p, encodeCbor(c));
    }
  }
  if (formats.has('corim')) {
    for (const [p, c] of corims) outputs.push({ format: 'corim', name: `${p}.corim.cbor`, data: c });
    // the unsigned #6.501 form, as Veraison provisions it (application/corim-unsigned+cbor)
    for (const [p, c] of unsigned) outputs.push({ format: 'corim', name: `${p}.corim-unsigned.cbor`, data: c });
  }
  if (formats.has('intoto')) {
    // each Statement as a DSSE envelope (all signatures) and as a sigstore bundle (first signature)
    const statements: [string, Uint8Array][] = [['reference-values', statementBytes(referenceValuesStatement(rv, docSha, { notBefore, notAfter }))]];
    if (br) statements.push(['provenance', br.bytes]);
    for (const [name, body] of statements) {
      const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, body, signers);
      outputs.push({ format: 'intoto', name: `${name}.intoto.json`, data: json(env) });
      outputs.push({ format: 'intoto', name: `${name}.sigstore.json`, data: json(sigstoreBundle(env)) });
    }
  }
  if (formats.has('rvps')) {
    outputs.push({ format: 'rvps', name: 'rvps-sample.json', data: json(rvpsSampleMessage(rv)) });
    for (const [p, c] of corims) outputs.push({ format: 'rvps', name: `rvps-corim-${p}.json`, data: json(rvpsCorimMessage(c)) });
  }
  await checkOutDir(o.outDir);
  await writeDirAtomic(
    o.outDir,
    outputs.map((f) => ({ name: f.name, data: f.data })),
  );
  const files: ManifestFile[] = outputs.map((f) => ({
    format: f.format,
    path: join(o.outDir, f.name),
    sha256: createHash('sha256').update(f.data).digest('hex'),
    size: f.data.length,
  }));
  return { referenceValues: rv, referenceValuesSha256: docSha, keyIds: signers.map((s) => s.keyId), notBefore, notAfter, files };
}
