/**
 * The signed repository index checked where WebCrypto is the only crypto (the repository page's
 * verifier): the DSSE envelope's signatures against the keys the user pinned (ECDSA P-256/P-384 DER,
 * Ed25519), then the same Statement and index checks as Node (src/publish/index-format.ts).
 * Fail closed: a key or signature this file cannot check never counts.
 */
import { FormatError, VerificationError } from '../errors.js';
import { OID, type PublicKeyInfo, readPublicKey } from '../formats/x509.js';
import { checkStatement } from '../manifest/intoto.js';
import { checkSignedIndex, INDEX_ENVELOPE, type RepositoryIndex, sha256 } from '../publish/index-format.js';
import { pae, parseEnvelope, strictBase64 } from '../sign/envelope.js';
import { p1363, source, verifyEcdsa } from './x509.js';

export interface PinnedKey extends PublicKeyInfo {
  /** sha256 of the SubjectPublicKeyInfo DER, hex: the DSSE keyid `keys generate` prints. */
  keyId: string;
}

/** A PEM public key the user pins. @throws {FormatError} when it is not one. */
export function pinKey(pem: string): PinnedKey {
  const k = readPublicKey(pem, 'pinned key');
  return { ...k, keyId: sha256(k.spki) };
}

const EC: Record<string, { size: number; hash: 'SHA-256' | 'SHA-384' }> = {
  [OID.secp256r1]: { size: 32, hash: 'SHA-256' },
  [OID.secp384r1]: { size: 48, hash: 'SHA-384' },
};

async function verifies(k: PinnedKey, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (k.keyAlg === OID.ecPublicKey) {
    const c = EC[k.curve ?? ''];
    const raw = c && p1363(sig, c.size);
    return raw !== undefined && (await verifyEcdsa(k.spki, k.curve, c!.hash, raw, msg));
  }
  if (k.keyAlg !== OID.ed25519 || sig.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey('spki', source(k.spki), { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, source(sig), source(msg));
  } catch {
    return false;
  }
}

/**
 * Verifies index.intoto.json with the pinned keys (at least one must have signed), then that its
 * Statement names index.json's sha256 and signed version, then parses index.json.
 * @throws {VerificationError} naming what failed; {FormatError} for a malformed envelope or index.
 */
export async function verifyRepositoryIndex(
  indexBytes: Uint8Array,
  envelopeBytes: Uint8Array,
  pinned: readonly PinnedKey[],
): Promise<{ index: RepositoryIndex; sha256: string; keyIds: string[] }> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(envelopeBytes));
  } catch {
    throw new FormatError(INDEX_ENVELOPE, 'not JSON');
  }
  const env = parseEnvelope(doc);
  const body = strictBase64(env.payload, 'payload');
  const msg = pae(env.payloadType, body);
  const ok = new Set<string>();
  for (const [i, s] of env.signatures.entries()) {
    const sig = strictBase64(s.sig, `signatures[${i}].sig`);
    for (const k of pinned) if (!ok.has(k.keyId) && (await verifies(k, msg, sig))) ok.add(k.keyId);
  }
  if (ok.size === 0) throw new VerificationError(`${INDEX_ENVELOPE}: DSSE: 0 of ${pinned.length} pinned key(s) verified a signature`);
  const st = checkStatement(JSON.parse(new TextDecoder().decode(body)), `${INDEX_ENVELOPE}: payload`);
  return { ...checkSignedIndex(st, indexBytes), keyIds: [...ok] };
}
