/**
 * SEV-SNP ID block and its authentication structure, passed to SNP_LAUNCH_FINISH (SEV-SNP Firmware ABI
 * spec section 8.17 "SNP_LAUNCH_FINISH": ID_BLOCK and ID_AUTH_INFO structures; chapter 10 for the
 * ECDSA P-384 public key and signature formats), as sev-snp-measure's snp-create-id-block builds them.
 * Pure layout and digests: the keys come in as SnpSigningKey (public point + a signing callback), which
 * src/sign/snp-id-block.ts makes from Node KeyObjects; a browser can back it with WebCrypto or @noble/curves.
 */
import { InputError } from '../../errors.js';
import { view } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';
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

/**
 * SNP ABI ID_BLOCK (0x60 bytes; SEV-SNP ABI, SNP_LAUNCH_FINISH: the ID Block structure): LD[48] FAMILY_ID[16] IMAGE_ID[16] VERSION u32
 * (=1) GUEST_SVN u32 POLICY u64.
 * @throws InputError when a field has the wrong length or does not fit its width.
 */
export function idBlock(p: IdBlockParams): Uint8Array {
  const fixed = (b: Uint8Array | undefined, n: number, what: string) => {
    if (b && b.length !== n) throw new InputError(`${what} must be ${n} bytes, got ${b.length}`);
    return b ?? new Uint8Array(n);
  };
  const out = new Uint8Array(0x60);
  const dv = view(out);
  out.set(fixed(p.digest, LD_SIZE, 'launch digest'), 0);
  out.set(fixed(p.familyId, 16, 'family ID'), 0x30);
  out.set(fixed(p.imageId, 16, 'image ID'), 0x40);
  dv.setUint32(0x50, 1, true);
  const svn = p.guestSvn ?? 0;
  if (!Number.isInteger(svn) || svn < 0 || svn > 0xffffffff) throw new InputError(`guest SVN ${svn} is not a 32-bit value`);
  dv.setUint32(0x54, svn, true);
  const policy = p.policy ?? DEFAULT_POLICY;
  if (policy < 0n || policy >= 1n << 64n) throw new InputError(`policy ${policy} does not fit in 64 bits`);
  dv.setBigUint64(0x58, policy, true);
  return out;
}

/**
 * An ECDSA P-384 key as the ID block needs it: the public point (big-endian X and Y, 48 bytes each) and
 * a signer returning the IEEE P1363 signature R || S (96 bytes) over SHA-384 of `data`.
 */
export interface SnpSigningKey {
  publicKey: { x: Uint8Array; y: Uint8Array };
  sign(data: Uint8Array): Uint8Array;
}

/** Big-endian bytes to the little-endian, zero-extended 72-byte field SNP uses for P-384 integers. */
function le72(bigEndian: Uint8Array, what: string): Uint8Array {
  if (bigEndian.length > 48) throw new InputError(`${what} is ${bigEndian.length} bytes, more than a P-384 integer`);
  const out = new Uint8Array(72);
  for (let i = 0; i < bigEndian.length; i++) out[i] = bigEndian[bigEndian.length - 1 - i]!;
  return out;
}

/** SNP ABI chapter 10 ECDSA public key (0x404 bytes): CURVE u32, QX[72], QY[72] little-endian, reserved. */
export function snpPublicKey(key: Pick<SnpSigningKey, 'publicKey'>): Uint8Array {
  const out = new Uint8Array(0x404);
  view(out).setUint32(0, CURVE_P384, true);
  out.set(le72(key.publicKey.x, 'public key X'), 4);
  out.set(le72(key.publicKey.y, 'public key Y'), 4 + 72);
  return out;
}

/** SNP ABI chapter 10 ECDSA signature (0x200 bytes): R[72], S[72] little-endian, reserved; over SHA-384 of `data`. @throws {InputError} when the key's signature is not 96 bytes of R‖S. */
export function snpSign(key: SnpSigningKey, data: Uint8Array): Uint8Array {
  const rs = key.sign(data);
  if (rs.length !== 96) throw new InputError(`a P-384 signature (R || S) is 96 bytes, the signer returned ${rs.length}`);
  const out = new Uint8Array(0x200);
  out.set(le72(rs.subarray(0, 48), 'signature R'), 0);
  out.set(le72(rs.subarray(48), 'signature S'), 72);
  return out;
}

/** The digest an attestation report carries for a key (ID_KEY_DIGEST / AUTHOR_KEY_DIGEST): SHA-384 of its SNP public key. */
export function snpKeyDigest(key: Pick<SnpSigningKey, 'publicKey'>): Uint8Array {
  return digest('sha384', snpPublicKey(key));
}

export interface IdBlockResult {
  idBlock: Uint8Array;
  idAuth: Uint8Array;
  idKeyDigest: Uint8Array;
  authorKeyDigest: Uint8Array;
}

/**
 * SNP ABI ID_AUTH_INFO (0x1000 bytes): ID_KEY_ALGO u32 @0, AUTH_KEY_ALGO u32 @4, ID_BLOCK_SIG @0x40,
 * ID_KEY @0x240, ID_KEY_SIG @0x680 (the author key over ID_KEY), AUTHOR_KEY @0x880.
 */
export function createIdBlock(p: IdBlockParams & { idKey: SnpSigningKey; authorKey: SnpSigningKey }): IdBlockResult {
  const block = idBlock(p);
  const idKey = snpPublicKey(p.idKey);
  const auth = new Uint8Array(0x1000);
  view(auth).setUint32(0, ECDSA_P384_SHA384, true);
  view(auth).setUint32(4, ECDSA_P384_SHA384, true);
  auth.set(snpSign(p.idKey, block), 0x40);
  auth.set(idKey, 0x240);
  auth.set(snpSign(p.authorKey, idKey), 0x680);
  auth.set(snpPublicKey(p.authorKey), 0x880);
  return { idBlock: block, idAuth: auth, idKeyDigest: snpKeyDigest(p.idKey), authorKeyDigest: snpKeyDigest(p.authorKey) };
}
