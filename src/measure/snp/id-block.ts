/**
 * SEV-SNP ID block and its authentication structure, passed to SNP_LAUNCH_FINISH (SEV-SNP Firmware ABI
 * spec section 8.17 "SNP_LAUNCH_FINISH": ID_BLOCK and ID_AUTH_INFO structures; chapter 10 for the
 * ECDSA P-384 public key and signature formats), as sev-snp-measure's snp-create-id-block builds them.
 */
import { createHash, sign, type KeyObject } from 'node:crypto';
import { InputError } from '../../errors.js';
import { LD_SIZE } from './gctx.js';

/** ID_AUTH_INFO ID_KEY_ALGO / AUTH_KEY_ALGO: 1 = ECDSA P-384 with SHA-384. */
export const ECDSA_P384_SHA384 = 1;
/** ECDSA public key CURVE: 2 = P-384. */
export const CURVE_P384 = 2;
export const DEFAULT_POLICY = 0x30000n;

export interface IdBlockParams {
  /** The expected launch digest (48 bytes). */
  digest: Uint8Array;
  familyId?: Uint8Array;
  imageId?: Uint8Array;
  guestSvn?: number;
  policy?: bigint;
}

/** SNP ABI ID_BLOCK (0x60 bytes): LD[48] FAMILY_ID[16] IMAGE_ID[16] VERSION u32 (=1) GUEST_SVN u32 POLICY u64. */
export function idBlock(p: IdBlockParams): Buffer {
  const fixed = (b: Uint8Array | undefined, n: number, what: string) => {
    if (b && b.length !== n) throw new InputError(`${what} must be ${n} bytes, got ${b.length}`);
    return b ?? Buffer.alloc(n);
  };
  const out = Buffer.alloc(0x60);
  out.set(fixed(p.digest, LD_SIZE, 'launch digest'), 0);
  out.set(fixed(p.familyId, 16, 'family ID'), 0x30);
  out.set(fixed(p.imageId, 16, 'image ID'), 0x40);
  out.writeUInt32LE(1, 0x50);
  const svn = p.guestSvn ?? 0;
  if (!Number.isInteger(svn) || svn < 0 || svn > 0xffffffff) throw new InputError(`guest SVN ${svn} is not a 32-bit value`);
  out.writeUInt32LE(svn, 0x54);
  const policy = p.policy ?? DEFAULT_POLICY;
  if (policy < 0n || policy >= 1n << 64n) throw new InputError(`policy ${policy} does not fit in 64 bits`);
  out.writeBigUInt64LE(policy, 0x58);
  return out;
}

/** Big-endian bytes to the little-endian, zero-extended 72-byte field SNP uses for P-384 integers. */
function le72(bigEndian: Uint8Array): Buffer {
  const out = Buffer.alloc(72);
  for (let i = 0; i < bigEndian.length; i++) out[i] = bigEndian[bigEndian.length - 1 - i]!;
  return out;
}

function checkP384(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new InputError(`${what} must be an ECDSA P-384 key (SNP supports only P-384), got ${key.asymmetricKeyType ?? key.type}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}`);
  }
}

/** SNP ABI chapter 10 ECDSA public key (0x404 bytes): CURVE u32, QX[72], QY[72] little-endian, reserved. */
export function snpPublicKey(key: KeyObject): Buffer {
  checkP384(key, 'key');
  const jwk = key.export({ format: 'jwk' });
  const out = Buffer.alloc(0x404);
  out.writeUInt32LE(CURVE_P384, 0);
  le72(Buffer.from(jwk.x!, 'base64url')).copy(out, 4);
  le72(Buffer.from(jwk.y!, 'base64url')).copy(out, 4 + 72);
  return out;
}

/** SNP ABI chapter 10 ECDSA signature (0x200 bytes): R[72], S[72] little-endian, reserved; over SHA-384 of `data`. */
export function snpSign(privateKey: KeyObject, data: Uint8Array): Buffer {
  checkP384(privateKey, 'signing key');
  const rs = sign('sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const out = Buffer.alloc(0x200);
  le72(rs.subarray(0, 48)).copy(out, 0);
  le72(rs.subarray(48)).copy(out, 72);
  return out;
}

/** The digest an attestation report carries for a key (ID_KEY_DIGEST / AUTHOR_KEY_DIGEST): SHA-384 of its SNP public key. */
export function snpKeyDigest(key: KeyObject): Buffer {
  return createHash('sha384').update(snpPublicKey(key)).digest();
}

export interface IdBlockResult {
  idBlock: Buffer;
  idAuth: Buffer;
  idKeyDigest: Buffer;
  authorKeyDigest: Buffer;
}

/**
 * SNP ABI ID_AUTH_INFO (0x1000 bytes): ID_KEY_ALGO u32 @0, AUTH_KEY_ALGO u32 @4, ID_BLOCK_SIG @0x40,
 * ID_KEY @0x240, ID_KEY_SIG @0x680 (the author key over ID_KEY), AUTHOR_KEY @0x880.
 */
export function createIdBlock(p: IdBlockParams & { idKey: KeyObject; authorKey: KeyObject }): IdBlockResult {
  const block = idBlock(p);
  const idKey = snpPublicKey(p.idKey);
  const auth = Buffer.alloc(0x1000);
  auth.writeUInt32LE(ECDSA_P384_SHA384, 0);
  auth.writeUInt32LE(ECDSA_P384_SHA384, 4);
  snpSign(p.idKey, block).copy(auth, 0x40);
  idKey.copy(auth, 0x240);
  snpSign(p.authorKey, idKey).copy(auth, 0x680);
  snpPublicKey(p.authorKey).copy(auth, 0x880);
  return { idBlock: block, idAuth: auth, idKeyDigest: snpKeyDigest(p.idKey), authorKeyDigest: snpKeyDigest(p.authorKey) };
}
