// Spec: RFC 6979 deterministic ECDSA and RFC 8032 Ed25519 signers.
/**
 * The signer interface every manifest format signs through, and its local implementation: a PEM key
 * (deterministic: Ed25519, or ECDSA with RFC 6979 nonces). ./command-signer.ts runs an external
 * command that signs a digest (a KMS / HSM wrapper). Signatures come back as raw r||s for ECDSA whatever the backend emits;
 * each format converts (COSE keeps raw, DSSE wants DER).
 */
import { createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { isEcdsa } from './ecdsa.js';
import { keyAlg, keyId, type KeyAlg } from './keys.js';
import { signDeterministic } from './rfc6979.js';

export interface Signer {
  readonly alg: KeyAlg;
  readonly publicKey: KeyObject;
  /** sha256(SPKI), hex. */
  readonly keyId: string;
  /** Same message → same signature. */
  readonly deterministic: boolean;
  /** Signs `message` (ECDSA hashes it with the curve's hash first); ECDSA result is raw r||s. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/**
 * A signer over a local private key (from parsePrivateKey); deterministic (Ed25519, RFC 6979 ECDSA).
 * @throws {InputError} when the key is not ecdsa-p256, ecdsa-p384 or ed25519.
 */
export function localSigner(privateKey: KeyObject): Signer {
  const alg = keyAlg(privateKey);
  const publicKey = createPublicKey(privateKey);
  return {
    alg,
    publicKey,
    keyId: keyId(publicKey),
    deterministic: true,
    async sign(message) {
      if (!isEcdsa(alg)) return nodeSign(null, message, privateKey);
      return signDeterministic(alg, privateKey, message);
    },
  };
}
