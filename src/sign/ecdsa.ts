/**
 * Deterministic ECDSA (RFC 6979) on node:crypto primitives, and the two ECDSA signature encodings.
 *
 * node:crypto's ECDSA picks a random nonce, so the same CoRIM signed twice would differ. Here the
 * nonce k comes from RFC 6979 §3.2 (HMAC-DRBG keyed with the private key and the message hash),
 * the point k·G from OpenSSL (an ECDH key whose private scalar is k), and s = k⁻¹(h + r·d) mod n in
 * BigInt arithmetic. Every signature is verified with node:crypto before it is returned.
 */
import { createECDH, createHash, createHmac, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { FormatError, VerificationError } from '../errors.js';
import { ALGS, type KeyAlg } from './keys.js';

/** Group orders n (SEC 2 §2.4.2 secp256r1, §2.5.1 secp384r1). */
const ORDER: Record<'ecdsa-p256' | 'ecdsa-p384', bigint> = {
  'ecdsa-p256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'ecdsa-p384': 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
};

const toBig = (b: Uint8Array) => (b.length === 0 ? 0n : BigInt(`0x${Buffer.from(b).toString('hex')}`));
const toBytes = (x: bigint, len: number) => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/** RFC 6979 §2.3.2 bits2int for qlen = 8·len (both curves here have byte-aligned orders). */
function bits2int(b: Uint8Array, len: number): bigint {
  return toBig(b.length > len ? b.subarray(0, len) : b);
}

/** RFC 6979 §3.2 steps b–h: successive nonce candidates for private key x and message hash h1. */
function* nonces(x: bigint, h1: Uint8Array, n: bigint, len: number, hash: string): Generator<bigint> {
  const hlen = createHash(hash).digest().length;
  const mac = (key: Buffer, ...data: Uint8Array[]) => {
    const m = createHmac(hash, key);
    for (const d of data) m.update(d);
    return m.digest();
  };
  const xo = toBytes(x, len);
  const ho = toBytes(bits2int(h1, len) % n, len); // bits2octets
  let V = Buffer.alloc(hlen, 0x01);
  let K = Buffer.alloc(hlen, 0x00);
  K = mac(K, V, Uint8Array.of(0x00), xo, ho);
  V = mac(K, V);
  K = mac(K, V, Uint8Array.of(0x01), xo, ho);
  V = mac(K, V);
  for (;;) {
    let T = Buffer.alloc(0);
    while (T.length < len) {
      V = mac(K, V);
      T = Buffer.concat([T, V]);
    }
    const k = bits2int(T, len);
    if (k >= 1n && k < n) yield k;
    K = mac(K, V, Uint8Array.of(0x00));
    V = mac(K, V);
  }
}

/** Deterministic ECDSA signature (raw r||s) of `message` with `key` (P-256/SHA-256 or P-384/SHA-384). */
export function signDeterministic(alg: 'ecdsa-p256' | 'ecdsa-p384', key: KeyObject, message: Uint8Array): Buffer {
  const info = ALGS[alg];
  const len = info.scalarBytes!;
  const n = ORDER[alg];
  const d = toBig(Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url'));
  const h1 = createHash(info.hash!).update(message).digest();
  const e = bits2int(h1, len) % n;
  for (const k of nonces(d, h1, n, len, info.hash!)) {
    const ecdh = createECDH(info.curve!);
    ecdh.setPrivateKey(toBytes(k, len));
    const R = ecdh.getPublicKey(); // 0x04 || X || Y
    const r = toBig(R.subarray(1, 1 + len)) % n;
    if (r === 0n) continue;
    const s = (modPow(k, n - 2n, n) * (e + r * d)) % n;
    if (s === 0n) continue;
    const sig = Buffer.concat([toBytes(r, len), toBytes(s, len)]);
    if (!nodeVerify(info.hash!, message, { key, dsaEncoding: 'ieee-p1363' }, sig)) {
      throw new VerificationError(`deterministic ${info.coseName} signature failed its own check`);
    }
    return sig;
  }
  throw new VerificationError('unreachable: RFC 6979 nonce generator ended');
}

// ---- signature encodings: raw r||s (IEEE P1363, COSE RFC 9053 §2.1) and DER (SEC 1 / X9.62, DSSE)

function derInt(x: Buffer): Buffer {
  let i = 0;
  while (i < x.length - 1 && x[i] === 0) i++;
  let v = x.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.of(0), v]);
  return Buffer.concat([Buffer.of(0x02, v.length), v]);
}

/** Raw r||s → DER `SEQUENCE { r INTEGER, s INTEGER }`. */
export function rawToDer(raw: Uint8Array): Buffer {
  if (raw.length % 2 !== 0 || raw.length === 0) throw new FormatError('ECDSA signature', `raw r||s has odd length ${raw.length}`);
  const h = raw.length / 2;
  const body = Buffer.concat([derInt(Buffer.from(raw.subarray(0, h))), derInt(Buffer.from(raw.subarray(h)))]);
  const len = body.length < 0x80 ? Buffer.of(body.length) : Buffer.of(0x81, body.length);
  return Buffer.concat([Buffer.of(0x30), len, body]);
}

/** DER → raw r||s of 2·`scalarBytes` bytes; strict DER (minimal lengths and integers, no trailing data). */
export function derToRaw(der: Uint8Array, scalarBytes: number): Buffer {
  const fail = (d: string): never => {
    throw new FormatError('ECDSA DER signature', d);
  };
  let p = 0;
  const byte = () => (p < der.length ? der[p++]! : fail('truncated'));
  const length = () => {
    const l = byte();
    if (l < 0x80) return l;
    if (l !== 0x81) return fail('unsupported length form');
    const v = byte();
    if (v < 0x80) fail('non-minimal length');
    return v;
  };
  if (byte() !== 0x30) fail('not a SEQUENCE');
  if (length() !== der.length - p) fail('SEQUENCE length does not match');
  const ints: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    if (byte() !== 0x02) fail('expected INTEGER');
    const l = length();
    if (l === 0 || p + l > der.length) fail('bad INTEGER length');
    const v = Buffer.from(der.subarray(p, p + l));
    p += l;
    if (v[0]! & 0x80) fail('negative INTEGER');
    if (l > 1 && v[0] === 0 && !(v[1]! & 0x80)) fail('non-minimal INTEGER');
    const m = v[0] === 0 && l > 1 ? v.subarray(1) : v;
    if (m.length > scalarBytes) fail(`INTEGER longer than ${scalarBytes} bytes`);
    ints.push(Buffer.concat([Buffer.alloc(scalarBytes - m.length), m]));
  }
  if (p !== der.length) fail('trailing bytes');
  return Buffer.concat(ints);
}

/** True for an ECDSA algorithm. */
export function isEcdsa(alg: KeyAlg): alg is 'ecdsa-p256' | 'ecdsa-p384' {
  return alg !== 'ed25519';
}
