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

const nodeCrypto: typeof NodeCrypto | undefined = globalThis.process?.getBuiltinModule?.('node:crypto');

const NOBLE = { sha1, sha256, sha384, sha512 } as const;

function nodeHasher(h: NodeCrypto.Hash): Hasher {
  return {
    update(data) {
      h.update(data);
      return this;
    },
    digest: () => h.digest(),
    copy: () => nodeHasher(h.copy()),
  };
}

type NobleHash = ReturnType<(typeof NOBLE)[DigestAlg]['create']>;

function nobleHasher(h: NobleHash): Hasher {
  return {
    update(data) {
      h.update(data);
      return this;
    },
    digest: () => h.digest(),
    copy: () => nobleHasher(h.clone()),
  };
}

function checkAlg(alg: DigestAlg): void {
  if (!Object.hasOwn(NOBLE, alg)) throw new TypeError(`unsupported hash algorithm ${JSON.stringify(alg)}`);
}

/** A fresh incremental `alg` hash. */
export function createHasher(alg: DigestAlg): Hasher {
  checkAlg(alg);
  return nodeCrypto ? nodeHasher(nodeCrypto.createHash(alg)) : nobleHasher(NOBLE[alg].create());
}

/** `alg` over the concatenation of `parts`. */
export function digest(alg: DigestAlg, ...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) {
    checkAlg(alg);
    return nodeCrypto ? nodeCrypto.createHash(alg).update(parts[0]!).digest() : NOBLE[alg](parts[0]!);
  }
  const h = createHasher(alg);
  for (const p of parts) h.update(p);
  return h.digest();
}
