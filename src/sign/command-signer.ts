// Spec: the Signer interface (./signer.ts) over an external command, e.g. a KMS / HSM wrapper.
/** A Node-only signer that spawns a process (exported from `cvm-measure/build`, not the pure `cvm-measure/sign`). */
import { createHash, type KeyObject } from 'node:crypto';
import { execa } from 'execa';
import { BuildError, VerificationError } from '../errors.js';
import { derToRaw, isEcdsa, verifySignature } from './ecdsa.js';
import { ALGS, keyAlg, keyId, type KeyAlg } from './keys.js';
import type { Signer } from './signer.js';

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
      if (!verifySignature(alg, publicKey, message, sig))
        throw new VerificationError(`signer command ${argv[0]} returned a signature that does not verify with the given public key`);
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
