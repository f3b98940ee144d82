/**
 * The one hashing facade of the browser-ready layers (measure, formats, tcg): Uint8Array in and out,
 * no node: import. In Node (>= 20.16) it reaches node:crypto through process.getBuiltinModule, which
 * hashes megabytes of firmware natively; elsewhere (browsers) it falls back to @noble/hashes.
 */
import type * as NodeCrypto from 'node:crypto';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';

export type DigestAlg = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** An incremental hash; `copy` forks the state so far (e.g. to read a running digest). */
export interface Hasher {
  update(data: Uint8Array): Hasher;
  digest(): Uint8Array;
  copy(): Hasher;
}

/** node:crypto when running in Node (undefined in browsers): the native fast path of this facade and of src/verify/x509.ts. */
export const nodeCrypto: typeof NodeCrypto | undefined = globalThis.process?.getBuiltinModule?.('node:crypto');

const NOBLE = { sha1, sha256, sha384, sha512 } as const;

/** What node:crypto's Hash and @noble/hashes' hashes both offer; `fork` copies one (Hash.copy, clone). */
function hasher<T extends { update(data: Uint8Array): unknown; digest(): Uint8Array }>(h: T, fork: (h: T) => T): Hasher {
  return {
    update(data) {
      h.update(data);
      return this;
    },
    digest: () => h.digest(),
    copy: () => hasher(fork(h), fork),
  };
}

function checkAlg(alg: DigestAlg): void {
  if (!Object.hasOwn(NOBLE, alg)) throw new TypeError(`unsupported hash algorithm ${JSON.stringify(alg)}`);
}

/** A fresh incremental `alg` hash. */
export function createHasher(alg: DigestAlg): Hasher {
  checkAlg(alg);
  return nodeCrypto ? hasher(nodeCrypto.createHash(alg), (h) => h.copy()) : hasher(NOBLE[alg].create(), (h) => h.clone());
}

/** `alg` over the concatenation of `parts`. */
export function digest(alg: DigestAlg, ...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) {
    checkAlg(alg);
    // crypto.hash (Node >= 20.12): one-shot, no Hash object; the SNP digest calls this per 4 KiB page
    return nodeCrypto ? nodeCrypto.hash(alg, parts[0]!, 'buffer') : NOBLE[alg](parts[0]!);
  }
  const h = createHasher(alg);
  for (const p of parts) h.update(p);
  return h.digest();
}
