/** Test keys from known scalars (RFC 6979 Appendix A.2.5 / A.2.6 use these for their vectors). */
import { createECDH, createPrivateKey, type KeyObject } from 'node:crypto';

/** An EC private key from its scalar (public point computed by OpenSSL). */
export function ecKey(curve: 'P-256' | 'P-384', dHex: string): KeyObject {
  const ecdh = createECDH(curve === 'P-256' ? 'prime256v1' : 'secp384r1');
  ecdh.setPrivateKey(Buffer.from(dHex, 'hex'));
  const pub = ecdh.getPublicKey();
  const n = (pub.length - 1) / 2;
  const b64 = (b: Buffer) => b.toString('base64url');
  return createPrivateKey({
    key: { kty: 'EC', crv: curve, d: b64(Buffer.from(dHex, 'hex')), x: b64(pub.subarray(1, 1 + n)), y: b64(pub.subarray(1 + n)) },
    format: 'jwk',
  });
}
