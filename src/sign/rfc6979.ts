// Spec: RFC 6979 §3.2 deterministic ECDSA (P-256/SHA-256, P-384/SHA-384), computed by @noble/curves.
/**
 * Deterministic ECDSA. node:crypto's ECDSA picks a random nonce, so the same CoRIM signed twice would
 * differ; here @noble/curves derives the nonce per RFC 6979 from the key and the digest node:crypto
 * computes. No low-S normalization (`lowS: false`: s is what RFC 6979 gives, as COSE, DSSE and
 * OpenSSL accept) and no extra entropy. Every signature is verified with node:crypto before it is
 * returned. Its own module so that verification paths never load @noble/curves.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { VerificationError } from '../errors.js';
import { verifySignature } from './ecdsa.js';
import { ALGS } from './keys.js';

const CURVES = { 'ecdsa-p256': p256, 'ecdsa-p384': p384 } as const;

/** Deterministic ECDSA signature (raw r||s) of `message` with `key` (P-256/SHA-256 or P-384/SHA-384). */
export function signDeterministic(alg: 'ecdsa-p256' | 'ecdsa-p384', key: KeyObject, message: Uint8Array): Buffer {
  const info = ALGS[alg];
  const d = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
  const digest = createHash(info.hash!).update(message).digest();
  const sig = Buffer.from(CURVES[alg].sign(digest, d, { prehash: false, lowS: false, extraEntropy: false }));
  d.fill(0);
  if (!verifySignature(alg, key, message, sig)) {
    throw new VerificationError(`deterministic ${info.coseName} signature failed its own check`);
  }
  return sig;
}
