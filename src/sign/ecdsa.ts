// Spec: SEC 1 §C.5 (DER) and RFC 9053 §2.1 (raw r||s) ECDSA signature encodings; node:crypto verification.
/**
 * ECDSA signature encodings (raw r||s for COSE, DER for DSSE) and signature verification through
 * node:crypto. Deterministic signing is in rfc6979.ts.
 */
import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import { FormatError } from '../errors.js';
import { ALGS, type KeyAlg } from './keys.js';

/**
 * node:crypto verification of `sig` over `message` with `key` (public, or private for its public half)
 * of algorithm `alg`: ECDSA hashes with the curve's hash and takes raw r||s (`encoding` 'ieee-p1363')
 * or DER; Ed25519 (PureEdDSA) takes the 64-byte signature and ignores `encoding`.
 */
export function verifySignature(alg: KeyAlg, key: KeyObject, message: Uint8Array, sig: Uint8Array, encoding: 'ieee-p1363' | 'der' = 'ieee-p1363'): boolean {
  return isEcdsa(alg) ? nodeVerify(ALGS[alg].hash!, message, { key, dsaEncoding: encoding }, sig) : nodeVerify(null, message, key, sig);
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
