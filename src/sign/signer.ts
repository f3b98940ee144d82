// Spec: RFC 6979 deterministic ECDSA and RFC 8032 Ed25519 signers (local key, or an external command that signs a digest).
/**
 * The signer interface every manifest format signs through, with two implementations: a local PEM
 * key (deterministic: Ed25519, or ECDSA with RFC 6979 nonces) and an external command that signs a
 * digest (a KMS / HSM wrapper). Signatures come back as raw r||s for ECDSA whatever the backend emits;
 * each format converts (COSE keeps raw, DSSE wants DER).
 */
import { createHash, createPublicKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { BuildError, VerificationError } from '../errors.js';
import { derToRaw, isEcdsa, verifySignature } from './ecdsa.js';
import { ALGS, keyAlg, keyId, type KeyAlg } from './keys.js';

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
      const { signDeterministic } = await import('./rfc6979.js'); // @noble/curves only where something is signed
      return signDeterministic(alg, privateKey, message);
    },
  };
}

/**
 * A signer that runs `argv` once per signature. The command gets, on stdin, the SHA-256/384 digest of
 * the message for ECDSA (what KMS "sign digest" APIs and `openssl pkeyutl -sign` take) or the message
 * itself for Ed25519 (PureEdDSA has no pre-hash); environment CVM_SIGN_ALG (ES256/ES384/EdDSA),
 * CVM_SIGN_INPUT (digest|message), CVM_SIGN_HASH. It prints the signature on stdout: binary (DER or
 * raw r||s) or the same as base64/hex text. The result is verified against `publicKey`.
 * @throws {InputError} when `publicKey` is not of a supported algorithm. Its `sign()` rejects with
 * {BuildError} when the command fails and {VerificationError} when its signature does not verify.
 */
export function commandSigner(argv: readonly string[], publicKey: KeyObject): Signer {
  const alg = keyAlg(publicKey);
  const info = ALGS[alg];
  return {
    alg,
    publicKey,
    keyId: keyId(publicKey),
    deterministic: false,
    async sign(message) {
      const input = info.hash ? createHash(info.hash).update(message).digest() : Buffer.from(message);
      const { execa } = await import('execa'); // a process package only where a command signs
      const r = await execa(argv[0]!, argv.slice(1), {
        input,
        encoding: 'buffer',
        stripFinalNewline: false, // binary signatures may end in 0x0a
        reject: false,
        env: { CVM_SIGN_ALG: info.coseName, CVM_SIGN_INPUT: info.hash ? 'digest' : 'message', CVM_SIGN_HASH: info.hash ?? '' },
      });
      if (r.exitCode !== 0) {
        const tail = Buffer.from(r.stderr).toString('utf8').trim().split('\n').slice(-1)[0] ?? '';
        throw new BuildError(`signer command ${argv[0]} failed (exit ${r.exitCode}): ${tail}`);
      }
      const sig = normalizeSignature(alg, decodeText(Buffer.from(r.stdout)));
      if (!verifySignature(alg, publicKey, message, sig)) throw new VerificationError(`signer command ${argv[0]} returned a signature that does not verify with the given public key`);
      return sig;
    },
  };
}

/** Accepts base64 or hex text output as well as binary. */
function decodeText(out: Buffer): Buffer {
  const t = out.toString('latin1').trim();
  if (/^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 && t.length >= 128) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]+=*$/.test(t) && t.length >= 86) return Buffer.from(t, /[-_]/.test(t) ? 'base64url' : 'base64');
  return out;
}

/** ECDSA: DER or raw → raw r||s; Ed25519 must be 64 bytes. */
function normalizeSignature(alg: KeyAlg, sig: Buffer): Buffer {
  const info = ALGS[alg];
  if (!isEcdsa(alg)) {
    if (sig.length !== 64) throw new VerificationError(`signer command returned ${sig.length} bytes, Ed25519 signatures are 64`);
    return sig;
  }
  if (sig.length === 2 * info.scalarBytes!) return sig;
  return derToRaw(sig, info.scalarBytes!);
}
