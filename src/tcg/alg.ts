/**
 * Hash algorithms of TPM banks and event-log digests: the one table of TPM_ALG ids, names and digest
 * sizes, and hashing through util/hash (native in Node, @noble/hashes in browsers; Uint8Array in and out).
 */
import { digest } from '../util/hash.js';

/**
 * TCG Algorithm Registry (Family "2.0", Level 00 Revision 01.32), section 4 "TPM_ALG_ID", with each
 * hash's digest size from the registry's hash-algorithm parameters; the same ids and sizes fill the
 * TCG_EfiSpecIdEventAlgorithmSize list of the PC Client Platform Firmware Profile's Spec ID event.
 */
export const TPM_ALGS = {
  0x0004: { name: 'sha1', size: 20 },
  0x000b: { name: 'sha256', size: 32 },
  0x000c: { name: 'sha384', size: 48 },
  0x000d: { name: 'sha512', size: 64 },
  0x0012: { name: 'sm3_256', size: 32 },
} as const satisfies Record<number, { name: string; size: number }>;

/** Any bank an event log may carry (TPM_ALGS names). */
export type TpmAlgName = (typeof TPM_ALGS)[keyof typeof TPM_ALGS]['name'];
/** Banks this package can hash, predict and replay (no SM3 implementation here). */
export type HashAlg = Exclude<TpmAlgName, 'sm3_256'>;
export const REPLAY_ALGS: readonly HashAlg[] = ['sha1', 'sha256', 'sha384', 'sha512'];

/** TPM_ALG id → name and digest size, or undefined for an id outside the table. */
export function tpmAlg(id: number): { name: TpmAlgName; size: number } | undefined {
  return (TPM_ALGS as Record<number, { name: TpmAlgName; size: number }>)[id];
}

/** Digest size in bytes of a bank named in TPM_ALGS. */
export function digestSize(alg: TpmAlgName): number {
  return Object.values(TPM_ALGS).find((a) => a.name === alg)!.size;
}

/** `alg` over the concatenation of `parts`. */
export function hash(alg: HashAlg, ...parts: Uint8Array[]): Uint8Array {
  return digest(alg, ...parts);
}
