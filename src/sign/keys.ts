// Spec: RFC 5280 §4.1.2.7 SubjectPublicKeyInfo (key ids); RFC 9053 §2.1–2.2 ES256/ES384/EdDSA algorithm ids.
/**
 * Signing-key algorithms, PEM key files and key ids. A key id is the lowercase hex SHA-256 of the
 * DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), the same value for PEM, COSE `kid` and DSSE `keyid`.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';

export type KeyAlg = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519';
export const KEY_ALGS: readonly KeyAlg[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519'];

export interface AlgInfo {
  alg: KeyAlg;
  /** COSE algorithm id (RFC 9053 §2.1 ES256 -7 / ES384 -35; RFC 9053 §2.2 EdDSA -8). */
  cose: number;
  coseName: string;
  /** Hash ECDSA signs (undefined for PureEdDSA, which signs the message itself). */
  hash?: 'sha256' | 'sha384';
  /** Bytes of r and of s (ECDSA); raw r||s is twice this. */
  scalarBytes?: number;
  /** node:crypto / OpenSSL curve name. */
  curve?: 'prime256v1' | 'secp384r1';
}

export const ALGS: Record<KeyAlg, AlgInfo> = {
  'ecdsa-p256': { alg: 'ecdsa-p256', cose: -7, coseName: 'ES256', hash: 'sha256', scalarBytes: 32, curve: 'prime256v1' },
  'ecdsa-p384': { alg: 'ecdsa-p384', cose: -35, coseName: 'ES384', hash: 'sha384', scalarBytes: 48, curve: 'secp384r1' },
  ed25519: { alg: 'ed25519', cose: -8, coseName: 'EdDSA' },
};

/**
 * The algorithm a key (private or public) belongs to.
 * @throws {InputError} on another key type or EC curve (`what` names the key in the message).
 */
export function keyAlg(key: KeyObject, what = 'key'): KeyAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    if (c === 'prime256v1') return 'ecdsa-p256';
    if (c === 'secp384r1') return 'ecdsa-p384';
    throw new InputError(`${what}: unsupported EC curve ${c ?? '?'} (use P-256 or P-384)`);
  }
  throw new InputError(`${what}: unsupported key type ${key.asymmetricKeyType ?? '?'} (use ecdsa-p256, ecdsa-p384 or ed25519)`);
}

export function spki(pub: KeyObject): Buffer {
  return pub.export({ type: 'spki', format: 'der' });
}

/** sha256(SPKI DER), lowercase hex. */
export function keyId(pub: KeyObject): string {
  return createHash('sha256').update(spki(pub)).digest('hex');
}

export interface GeneratedKey {
  alg: KeyAlg;
  privatePem: string;
  publicPem: string;
  keyId: string;
}

/** A new key pair of algorithm `alg` (random; PEM PKCS#8 private, SPKI public) with its key id. */
export function generateKey(alg: KeyAlg): GeneratedKey {
  const info = ALGS[alg];
  const { privateKey, publicKey } = alg === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: info.curve! });
  return {
    alg,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}

/**
 * Parses a PEM private key (PKCS#8 or SEC1); `path` names it in errors. Never echoes key material.
 * @throws {InputError} when it is not an unencrypted PEM private key of a supported algorithm.
 */
export function parsePrivateKey(pem: Uint8Array | string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pem), format: 'pem' });
  } catch {
    throw new InputError(`${path}: not a PEM private key (expected PKCS#8 or SEC1, unencrypted)`);
  }
  keyAlg(key, path);
  return key;
}

/**
 * Parses a PEM public key (SPKI) or takes the public half of a PEM private key.
 * @throws {InputError} when it is not a PEM key of a supported algorithm.
 */
export function parsePublicKey(pem: Uint8Array | string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(pem), format: 'pem' });
  } catch {
    throw new InputError(`${path}: not a PEM public key (expected SubjectPublicKeyInfo)`);
  }
  keyAlg(key, path);
  return key;
}
