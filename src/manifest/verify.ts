/**
 * Verification of what `manifest create` writes: a signed CoRIM (COSE_Sign1) or a DSSE envelope,
 * against trusted public keys, with a k-of-n threshold for envelopes and the validity window.
 */
import type { KeyObject } from 'node:crypto';
import { FormatError, UsageError, VerificationError } from '../errors.js';
import { asMap, decodeCbor } from '../formats/cbor.js';
import { HEADER, verifySign1 } from '../sign/cose.js';
import { corimHeader, readCorim, type CorimSummary } from './corim.js';
import { parseEnvelope, verifyEnvelope } from '../sign/dsse.js';
import { checkStatement, REFERENCE_VALUES_PREDICATE } from './intoto.js';
import { REFERENCE_VALUES_SCHEMA } from './model.js';
import { SIGSTORE_BUNDLE_V03 } from './sigstore.js';
import { parseJsonStrict } from '../util/json.js';

export interface VerifyOptions {
  trusted: readonly KeyObject[];
  /** Distinct trusted keys that must have signed (default 1). */
  threshold?: number;
  /** Seconds since the epoch (default: now). */
  now?: number;
}

export type VerifyResult =
  | { type: 'corim'; alg: string; keyIds: string[]; signer?: string; notBefore?: number; notAfter?: number; corim: CorimSummary }
  | {
      type: 'dsse';
      payloadType: string;
      keyIds: string[];
      predicateType: string;
      subjects: { name: string; digest: Record<string, string> }[];
      predicate: unknown;
    };

function checkWindow(what: string, now: number, nb?: number, na?: number): void {
  const iso = (t: number) => new Date(t * 1000).toISOString();
  if (nb !== undefined && now < nb) throw new VerificationError(`${what}: not valid before ${iso(nb)}`);
  if (na !== undefined && now > na) throw new VerificationError(`${what}: expired at ${iso(na)}`);
}

/**
 * Verifies a signed CoRIM (COSE_Sign1 over a #6.501 corim-map): core deterministic CBOR, a signature by
 * one of `o.trusted`, and every validity window (corim-meta, CWT claims, rim-validity) at `o.now`.
 * @throws {UsageError} when `o.threshold` > 1 (a COSE_Sign1 carries one signature).
 * @throws {FormatError} when the bytes are not a well-formed signed CoRIM.
 * @throws {VerificationError} when no trusted key verifies it or a validity window excludes `o.now`.
 */
export function verifyCorim(bytes: Uint8Array, o: VerifyOptions): VerifyResult {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  if ((o.threshold ?? 1) > 1)
    throw new UsageError(`--threshold ${o.threshold}: a signed CoRIM (COSE_Sign1) carries one signature; thresholds apply to DSSE envelopes`);
  // our CoRIMs are core deterministic end to end; anything else was not written by us (or was altered)
  decodeCbor(bytes, { what: 'signed CoRIM', deterministic: true });
  const h = corimHeader(bytes);
  // the protected header and corim-meta are byte strings holding CBOR: deterministic inside too
  decodeCbor(h.sign1.protectedBytes, { what: 'COSE protected header', deterministic: true });
  const meta = h.sign1.protected.get(HEADER.corimMeta);
  if (meta instanceof Uint8Array) decodeCbor(meta, { what: 'corim-meta', deterministic: true });
  const v = verifySign1(h.sign1, o.trusted, [HEADER.corimMeta, HEADER.cwtClaims]);
  checkWindow('corim-meta signature-validity', now, h.notBefore, h.notAfter);
  const cwt = h.sign1.protected.get(HEADER.cwtClaims);
  if (cwt !== undefined) {
    const c = asMap(cwt, 'CWT claims');
    const num = (k: number) => (typeof c.get(k) === 'number' ? (c.get(k) as number) : undefined);
    checkWindow('CWT claims', now, num(5), num(4));
  }
  const corim = readCorim(h.sign1.payload);
  checkWindow('CoRIM rim-validity', now, corim.notBefore, corim.notAfter);
  return {
    type: 'corim',
    alg: v.alg,
    keyIds: [v.keyId],
    ...(h.signer ? { signer: h.signer } : {}),
    ...(h.notBefore !== undefined ? { notBefore: h.notBefore } : {}),
    ...(h.notAfter !== undefined ? { notAfter: h.notAfter } : {}),
    corim,
  };
}

const ENVELOPE_KEYS = new Set(['payload', 'payloadType', 'signatures']);
const SIGNATURE_KEYS = new Set(['keyid', 'sig']);

/**
 * Verifies a DSSE envelope (or a sigstore bundle around one) of an in-toto Statement: at least
 * `o.threshold` distinct keys of `o.trusted` signed it; a reference-values Statement also must be
 * inside its validity window at `o.now`.
 * @throws {UsageError} when `o.threshold` exceeds the distinct trusted keys.
 * @throws {FormatError} when the text is not JSON of an envelope or bundle (duplicate member names
 * included), or the payload is not JSON.
 * @throws {VerificationError} when too few trusted keys verify it, a keyid is wrong, or a
 * reference-values Statement has no validity window or is outside it.
 * @throws {InputError} when the payload is not an in-toto Statement v1.
 */
export function verifyDsse(text: string, o: VerifyOptions): VerifyResult {
  const doc = parseJsonStrict(text, 'DSSE envelope');
  const d = doc as Record<string, unknown> | null;
  if (d?.schema === REFERENCE_VALUES_SCHEMA)
    throw new FormatError('manifest', 'reference-values.json is not signed; verify its envelope reference-values.intoto.json');
  if (typeof d?.type === 'string' && 'version' in d && !('signatures' in d))
    throw new FormatError('manifest', 'an RVPS message is not signed; verify the CoRIM or DSSE envelope it was made from');
  const bundle = unwrapBundle(doc);
  const env = parseEnvelope(bundle?.dsseEnvelope ?? doc);
  // nothing outside the signature may be silently ignored: unknown members and keyid hints that name another key are errors
  for (const k of Object.keys(env)) if (!ENVELOPE_KEYS.has(k)) throw new FormatError('DSSE envelope', `unknown member ${JSON.stringify(k)}`);
  for (const [i, s] of env.signatures.entries()) {
    for (const k of Object.keys(s)) if (!SIGNATURE_KEYS.has(k)) throw new FormatError('DSSE envelope', `signatures[${i}]: unknown member ${JSON.stringify(k)}`);
  }
  const v = verifyEnvelope(env, o.trusted, o.threshold ?? 1);
  if (bundle && bundle.hint !== '' && !v.keyIds.includes(bundle.hint))
    throw new VerificationError('sigstore bundle: publicKey.hint does not name the key that verified the envelope');
  const st = checkStatement(parseJsonStrict(v.body.toString('utf8'), 'DSSE payload'), 'DSSE payload');
  if (st.predicateType === REFERENCE_VALUES_PREDICATE) checkPredicateValidity(st.predicate, o.now ?? Math.floor(Date.now() / 1000));
  return { type: 'dsse', payloadType: env.payloadType, keyIds: v.keyIds, predicateType: st.predicateType, subjects: st.subject, predicate: st.predicate };
}

/** The reference-values predicate's `validity` (the CoRIMs' window): required, and must hold at `now`. */
function checkPredicateValidity(predicate: unknown, now: number): void {
  const w = (predicate as { validity?: { notBefore?: unknown; notAfter?: unknown } } | null)?.validity;
  const at = (t: unknown) => (typeof t === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(t) ? Date.parse(t) / 1000 : Number.NaN);
  const nb = at(w?.notBefore);
  const na = at(w?.notAfter);
  if (!Number.isFinite(nb) || !Number.isFinite(na))
    throw new VerificationError('reference-values predicate: validity {notBefore, notAfter} (RFC 3339 UTC) missing or malformed');
  checkWindow('reference-values predicate validity', now, nb, na);
}

const BUNDLE_KEYS = new Set(['mediaType', 'verificationMaterial', 'dsseEnvelope']);

/** A sigstore bundle (public-key material, no tlog entries or timestamps): its envelope and key hint. */
function unwrapBundle(doc: unknown): { dsseEnvelope: unknown; hint: string } | undefined {
  const b = doc as {
    mediaType?: unknown;
    verificationMaterial?: { publicKey?: { hint?: unknown }; tlogEntries?: unknown[]; timestampVerificationData?: unknown };
    dsseEnvelope?: unknown;
  };
  if (typeof b?.mediaType !== 'string') return undefined;
  if (b.mediaType !== SIGSTORE_BUNDLE_V03) throw new FormatError('sigstore bundle', `unsupported mediaType ${JSON.stringify(b.mediaType)}`);
  for (const k of Object.keys(b)) if (!BUNDLE_KEYS.has(k)) throw new FormatError('sigstore bundle', `unknown member ${JSON.stringify(k)}`);
  const vm = b.verificationMaterial;
  const only = (o: unknown, keys: string[], what: string) => {
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new FormatError('sigstore bundle', `${what} must be an object`);
    for (const k of Object.keys(o)) if (!keys.includes(k)) throw new FormatError('sigstore bundle', `${what}: unsupported member ${JSON.stringify(k)}`);
  };
  only(vm, ['publicKey', 'tlogEntries', 'timestampVerificationData'], 'verificationMaterial');
  only(vm!.publicKey, ['hint'], 'verificationMaterial.publicKey (only public-key material is supported)');
  if (typeof vm!.publicKey!.hint !== 'string') throw new FormatError('sigstore bundle', 'publicKey.hint must be a string');
  // nothing here is verified offline, so nothing may be present to be silently ignored
  if (vm!.tlogEntries !== undefined && !(Array.isArray(vm!.tlogEntries) && vm!.tlogEntries.length === 0))
    throw new FormatError('sigstore bundle', 'transparency-log entries are not verified offline');
  const tvd = vm!.timestampVerificationData as { rfc3161Timestamps?: unknown } | undefined;
  if (tvd !== undefined) {
    only(tvd, ['rfc3161Timestamps'], 'timestampVerificationData');
    if (tvd.rfc3161Timestamps !== undefined && !(Array.isArray(tvd.rfc3161Timestamps) && tvd.rfc3161Timestamps.length === 0))
      throw new FormatError('sigstore bundle', 'RFC 3161 timestamps are not verified offline');
  }
  return { dsseEnvelope: b.dsseEnvelope, hint: vm!.publicKey!.hint };
}

/**
 * Verifies a file's bytes: CBOR tag 18 → CoRIM (verifyCorim), a JSON object → DSSE envelope or sigstore bundle (verifyDsse).
 * @throws {UsageError} with no trusted key (or a threshold on a CoRIM).
 * @throws {FormatError} when the bytes are neither a signed CoRIM nor a DSSE envelope.
 * @throws {VerificationError} when the signatures or validity windows do not check out.
 */
export function verifyManifest(bytes: Uint8Array, o: VerifyOptions): VerifyResult {
  if (o.trusted.length === 0) throw new UsageError('--trust: at least one public key is needed');
  if (bytes[0] === 0xd2) return verifyCorim(bytes, o);
  const text = Buffer.from(bytes).toString('utf8');
  if (text.trimStart().startsWith('{')) return verifyDsse(text, o);
  throw new FormatError('manifest', 'neither a signed CoRIM (CBOR tag 18) nor a DSSE envelope (JSON)');
}
