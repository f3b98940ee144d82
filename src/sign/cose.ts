// Spec: RFC 9052 §4.2/§4.4 COSE_Sign1 and Sig_structure (RFC 9053 §2 algorithms).
/**
 * COSE_Sign1 (RFC 9052 §4.2, tag 18) with a single signer: build the Sig_structure (§4.4), sign,
 * parse strictly and verify. ECDSA signatures are the fixed-size r||s of RFC 9053 §2.1 — a DER
 * signature is rejected, not converted.
 */
import type { KeyObject } from 'node:crypto';
import { FormatError, VerificationError } from '../errors.js';
import { verifySignature } from './ecdsa.js';
import { ALGS, keyAlg, keyId, type KeyAlg } from './keys.js';
import type { Signer } from './signer.js';
import { asArray, asBytes, asMap, decodeCbor, encodeCbor, Tagged, type CborMap, type CborValue } from '../formats/cbor.js';

/** COSE header labels (RFC 9052 §3.1; corim-meta 8 and CWT-Claims 15 per draft-ietf-rats-corim §4.2, RFC 9597). */
export const HEADER = { alg: 1, crit: 2, contentType: 3, kid: 4, corimMeta: 8, cwtClaims: 15 } as const;
export const COSE_SIGN1_TAG = 18;

export interface Sign1 {
  /** The protected header exactly as serialized (the signature covers these bytes). */
  protectedBytes: Uint8Array;
  protected: CborMap;
  unprotected: CborMap;
  payload: Uint8Array;
  signature: Uint8Array;
}

/** Sig_structure = ["Signature1", body_protected, external_aad, payload] (RFC 9052 §4.4). */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array, externalAad: Uint8Array = new Uint8Array()): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, externalAad, payload]);
}

const ALG_BY_COSE = new Map<number, KeyAlg>(Object.values(ALGS).map((a) => [a.cose, a.alg]));

/**
 * Signs `payload` as #6.18(COSE_Sign1); `headers` are the protected header minus alg and kid, which come from the signer.
 * @throws {BuildError} or {VerificationError} from a commandSigner whose command fails or returns a bad signature.
 */
export async function signSign1(headers: CborMap, payload: Uint8Array, signer: Signer): Promise<Uint8Array> {
  const prot: CborMap = new Map(headers);
  prot.set(HEADER.alg, ALGS[signer.alg].cose);
  prot.set(HEADER.kid, Buffer.from(signer.keyId, 'hex'));
  const protectedBytes = encodeCbor(prot);
  const signature = await signer.sign(sigStructure(protectedBytes, payload));
  return encodeCbor(new Tagged(COSE_SIGN1_TAG, [protectedBytes, new Map(), payload, signature]));
}

/**
 * Parses #6.18([protected, unprotected, payload, signature]); a detached (nil) payload is an error.
 * @throws {FormatError} on anything but a well-formed, attached COSE_Sign1 (`what` names it in the message).
 */
export function parseSign1(bytes: Uint8Array, what = 'COSE_Sign1'): Sign1 {
  const top = decodeCbor(bytes, { what });
  if (!(top instanceof Tagged) || top.tag !== COSE_SIGN1_TAG) throw new FormatError(what, 'expected tag 18 (COSE_Sign1)');
  const arr = asArray(top.value, what);
  if (arr.length !== 4) throw new FormatError(what, `expected 4 elements, got ${arr.length}`);
  const protectedBytes = asBytes(arr[0], `${what} protected header`);
  const prot = protectedBytes.length === 0 ? new Map() : asMap(decodeCbor(protectedBytes, { what: `${what} protected header` }), `${what} protected header`);
  if (arr[2] === null) throw new FormatError(what, 'detached payload (nil) is not supported');
  return {
    protectedBytes,
    protected: prot,
    unprotected: asMap(arr[1], `${what} unprotected header`),
    payload: asBytes(arr[2], `${what} payload`),
    signature: asBytes(arr[3], `${what} signature`),
  };
}

export interface VerifiedSign1 {
  alg: KeyAlg;
  /** Index into the trusted keys of the key that verified. */
  keyIndex: number;
  keyId: string;
}

/**
 * Verifies `msg` against any of `trusted`. `understood` lists the header labels the caller processes
 * (a `crit` label that is neither one of those nor a core label 1–4 is rejected, RFC 9052 §3.1).
 * @throws {VerificationError} on an unsupported or unprotected alg, a critical header not understood, or
 * a signature no trusted key verifies.
 */
export function verifySign1(msg: Sign1, trusted: readonly KeyObject[], understood: readonly number[] = []): VerifiedSign1 {
  const algLabel = msg.protected.get(HEADER.alg);
  if (msg.unprotected.has(HEADER.alg)) throw new VerificationError('COSE_Sign1: alg must be in the protected header');
  if (typeof algLabel !== 'number') throw new VerificationError('COSE_Sign1: protected header has no integer alg (1)');
  const alg = ALG_BY_COSE.get(algLabel);
  if (!alg) throw new VerificationError(`COSE_Sign1: unsupported alg ${algLabel} (supported: ES256 -7, ES384 -35, EdDSA -8)`);
  checkCrit(msg, understood);
  const info = ALGS[alg];
  const candidates = trusted.map((k, i) => [k, i] as const).filter(([k]) => keyAlg(k) === alg);
  if (candidates.length === 0) throw new VerificationError(`COSE_Sign1: alg ${info.coseName} does not match any trusted key's algorithm`);
  if (info.scalarBytes && msg.signature.length !== 2 * info.scalarBytes) {
    throw new VerificationError(
      `COSE_Sign1: ${info.coseName} signature must be raw r||s of ${2 * info.scalarBytes} bytes, got ${msg.signature.length}${msg.signature[0] === 0x30 ? ' (looks like DER)' : ''}`,
    );
  }
  const tbs = sigStructure(msg.protectedBytes, msg.payload);
  for (const [k, i] of candidates) {
    if (verifySignature(alg, k, tbs, msg.signature)) return { alg, keyIndex: i, keyId: keyId(k) };
  }
  throw new VerificationError(`COSE_Sign1: ${info.coseName} signature does not verify with any of ${candidates.length} trusted key(s)`);
}

const CORE_LABELS = new Set<CborValue>([HEADER.alg, HEADER.crit, HEADER.contentType, HEADER.kid]);

function checkCrit(msg: Sign1, understood: readonly number[]): void {
  if (msg.unprotected.has(HEADER.crit)) throw new VerificationError('COSE_Sign1: crit (2) must be in the protected header');
  const crit = msg.protected.get(HEADER.crit);
  if (crit === undefined) return;
  if (!Array.isArray(crit) || crit.length === 0) throw new VerificationError('COSE_Sign1: crit (2) must be a non-empty array');
  for (const label of crit) {
    if (!CORE_LABELS.has(label) && !understood.includes(label as number)) {
      throw new VerificationError(`COSE_Sign1: critical header ${JSON.stringify(typeof label === 'bigint' ? String(label) : label)} is not understood`);
    }
    if (!msg.protected.has(label)) throw new VerificationError(`COSE_Sign1: critical header ${String(label)} is listed in crit but absent`);
  }
}
