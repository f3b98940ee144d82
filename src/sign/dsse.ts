// Spec: DSSE v1 (Dead Simple Signing Envelope protocol: PAE and the JSON envelope).
/**
 * DSSE envelopes (in-toto attestation framework, dsse-protocol.md): signing and verifying signatures
 * over PAE(type, body) (./envelope.ts) with node:crypto. ECDSA signatures are DER (what sigstore,
 * cosign and securesystemslib verify); a raw r||s signature is rejected.
 */
import type { KeyObject } from 'node:crypto';
import { FormatError, UsageError, VerificationError } from '../errors.js';
import { derToRaw, isEcdsa, rawToDer, verifySignature } from './ecdsa.js';
import { ALGS, keyAlg, keyId } from './keys.js';
import { type Envelope, pae, strictBase64 } from './envelope.js';
import type { Signer } from './signer.js';

export { type Envelope, pae, parseEnvelope } from './envelope.js';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * Signs `body` with every signer (k-of-n envelopes carry several signatures); ECDSA signatures go in as DER.
 * @throws {BuildError} or {VerificationError} from a commandSigner whose command fails or returns a bad signature.
 */
export async function signEnvelope(payloadType: string, body: Uint8Array, signers: readonly Signer[]): Promise<Envelope> {
  const msg = pae(payloadType, body);
  const signatures = [];
  for (const s of signers) {
    const raw = await s.sign(msg);
    signatures.push({ keyid: s.keyId, sig: Buffer.from(isEcdsa(s.alg) ? rawToDer(raw) : raw).toString('base64') });
  }
  return { payloadType, payload: Buffer.from(body).toString('base64'), signatures };
}

export interface VerifiedEnvelope {
  body: Buffer;
  /** Indexes of the trusted keys that verified a signature. */
  keyIndexes: number[];
  keyIds: string[];
}

/** Signatures an envelope may carry before it is refused unread (or twice the trusted keys, if more). */
const MAX_SIGNATURES = 16;

/**
 * Verifies that at least `threshold` distinct trusted keys signed PAE(type, payload). Keys count by
 * public-key identity (the key id, sha256 of the SPKI): the same key trusted twice, or two signatures
 * by one key, count once. A `keyid` is only a hint, but a wrong one is still an error: a signature
 * whose keyid names a trusted key must verify with that key, and a signature that verifies must not
 * carry another key's id.
 * @throws {UsageError} when `threshold` exceeds the number of distinct trusted keys.
 * @throws {FormatError} when the payload or a signature is not canonical base64, or there are more than
 *   max(16, 2 × trusted keys) signatures.
 * @throws {VerificationError} when fewer than `threshold` trusted keys verify, or a keyid is wrong.
 */
export function verifyEnvelope(env: Envelope, trusted: readonly KeyObject[], threshold = 1): VerifiedEnvelope {
  const ids = trusted.map(keyId);
  const distinct = new Set(ids).size;
  if (threshold > distinct) throw new UsageError(`--threshold ${threshold}: only ${distinct} distinct trusted key(s) (a key given twice counts once)`);
  // each signature is tried against each trusted key: a bound keeps a hostile envelope's cost small
  const most = Math.max(MAX_SIGNATURES, 2 * trusted.length);
  if (env.signatures.length > most)
    throw new FormatError('DSSE envelope', `${env.signatures.length} signatures: more than the ${most} a verifier with ${trusted.length} trusted key(s) tries`);
  const body = Buffer.from(strictBase64(env.payload, 'payload'));
  const msg = pae(env.payloadType, body);
  /** key id → index of the first trusted key with that id that verified a signature */
  const ok = new Map<string, number>();
  let rawSeen = false;
  env.signatures.forEach((s, si) => {
    const sig = strictBase64(s.sig, `signatures[${si}].sig`);
    const hit = trusted.findIndex((k) => {
      const alg = keyAlg(k);
      if (!isEcdsa(alg)) return sig.length === 64 && verifySignature(alg, k, msg, sig);
      // strict DER only: raw r||s (IEEE P1363) is the COSE encoding, not DSSE's
      try {
        derToRaw(sig, ALGS[alg].scalarBytes!);
      } catch {
        if (sig.length === 2 * ALGS[alg].scalarBytes!) rawSeen = true;
        return false;
      }
      return verifySignature(alg, k, msg, sig, 'der');
    });
    const named = s.keyid ? ids.indexOf(s.keyid) : -1;
    if (hit < 0 && named >= 0)
      throw new VerificationError(
        `DSSE: signatures[${si}] names trusted key ${s.keyid!.slice(0, 16)}… but does not verify with it${rawSeen ? ' (raw r||s; DSSE ECDSA signatures must be DER)' : ''}`,
      );
    if (hit >= 0 && s.keyid && s.keyid !== ids[hit])
      throw new VerificationError(`DSSE: signatures[${si}].keyid does not match the key that verified it (${ids[hit]!.slice(0, 16)}…)`);
    if (hit >= 0 && !ok.has(ids[hit]!)) ok.set(ids[hit]!, hit);
  });
  if (ok.size < threshold) {
    throw new VerificationError(
      `DSSE: ${ok.size} of ${distinct} trusted key(s) verified, threshold ${threshold}${rawSeen ? '; a raw r||s signature was found, DSSE ECDSA signatures must be DER' : ''}`,
    );
  }
  const keyIndexes = [...ok.values()].sort((a, b) => a - b);
  return { body, keyIndexes, keyIds: keyIndexes.map((i) => ids[i]!) };
}
