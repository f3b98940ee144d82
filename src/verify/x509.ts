/**
 * Certificate and signature checks through WebCrypto (`globalThis.crypto.subtle`: Node ≥ 20 and every
 * browser), so the verifier runs unchanged in a web page: ECDSA (P-256/P-384; X.509 signatures are DER
 * Ecdsa-Sig-Value, RFC 3279 §2.2.3, converted to the IEEE P1363 r||s WebCrypto takes) and RSASSA-PSS
 * (RFC 4055). Fail closed: an algorithm this file does not know is a failed check, never a pass.
 */
import { toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';
import { children, expectTag, readDer, TAG } from '../formats/der.js';
import { type Certificate, equal, OID } from '../formats/x509.js';

const HASH: Record<string, string> = { [OID.sha256]: 'SHA-256', [OID.sha384]: 'SHA-384' };
const CURVE: Record<string, { name: string; size: number }> = { [OID.secp256r1]: { name: 'P-256', size: 32 }, [OID.secp384r1]: { name: 'P-384', size: 48 } };

const subtle = () => globalThis.crypto.subtle;
/** WebCrypto's BufferSource type (DOM lib) wants an ArrayBuffer-backed view; ours always are. */
export const source = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

/** A DER TLV (short or long definite length). */
function tlv(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Uint8Array.from([tag, ...len, ...body]);
}

/** An SPKI whose algorithm is id-RSASSA-PSS, re-labelled rsaEncryption (the only RSA SPKI form browsers import). */
function rsaSpki(cert: Certificate): Uint8Array {
  if (cert.keyAlg === OID.rsaEncryption) return cert.spki;
  const [, key] = children(readDer(cert.spki, 0, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  const rsaEncryption = Uint8Array.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
  return tlv(TAG.SEQUENCE, Uint8Array.from([...tlv(TAG.SEQUENCE, rsaEncryption), ...key!.raw]));
}

/** Ecdsa-Sig-Value (DER) → r||s of `size` bytes each. */
export function p1363(der: Uint8Array, size: number): Uint8Array | undefined {
  try {
    const [r, s] = children(expectTag(readDer(der, 0, 'ECDSA signature'), TAG.SEQUENCE, 'ECDSA signature'), 'ECDSA signature');
    const fixed = (x: Uint8Array) => {
      const v = x[0] === 0 ? x.subarray(1) : x;
      if (v.length > size) throw new Error('too long');
      return Uint8Array.from([...new Uint8Array(size - v.length), ...v]);
    };
    return Uint8Array.from([...fixed(expectTag(r, TAG.INTEGER, 'r').body), ...fixed(expectTag(s, TAG.INTEGER, 's').body)]);
  } catch {
    return undefined;
  }
}

/** ECDSA verification of `data` with an EC public key (SPKI DER), signature as r||s. */
export async function verifyEcdsa(
  spki: Uint8Array,
  curveOid: string | undefined,
  hash: 'SHA-256' | 'SHA-384',
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const curve = curveOid && CURVE[curveOid];
  if (!curve) return false;
  try {
    const key = await subtle().importKey('spki', source(spki), { name: 'ECDSA', namedCurve: curve.name }, false, ['verify']);
    return await subtle().verify({ name: 'ECDSA', hash }, key, source(signature), source(data));
  } catch {
    return false;
  }
}

/** Did `issuer` sign `cert`? Names must chain and the signature must verify; unknown algorithms fail. */
export async function signedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  if (!equal(cert.issuer.der, issuer.subject.der)) return false;
  const data = cert.tbs;
  try {
    if (cert.sigAlg.oid === OID.rsassaPss) {
      const hash = HASH[cert.sigAlg.hash ?? ''];
      if (!hash || (issuer.keyAlg !== OID.rsaEncryption && issuer.keyAlg !== OID.rsassaPss)) return false;
      const key = await subtle().importKey('spki', source(rsaSpki(issuer)), { name: 'RSA-PSS', hash }, false, ['verify']);
      return await subtle().verify({ name: 'RSA-PSS', saltLength: cert.sigAlg.saltLength ?? 20 }, key, source(cert.signature), source(data));
    }
    const ecHash = cert.sigAlg.oid === OID.ecdsaWithSha256 ? 'SHA-256' : cert.sigAlg.oid === OID.ecdsaWithSha384 ? 'SHA-384' : undefined;
    if (ecHash && issuer.keyAlg === OID.ecPublicKey) {
      const sig = p1363(cert.signature, CURVE[issuer.curve ?? '']?.size ?? 0);
      return sig !== undefined && (await verifyEcdsa(issuer.spki, issuer.curve, ecHash, sig, cert.tbs));
    }
  } catch {
    return false;
  }
  return false;
}

/** SHA-256 of a certificate's DER, hex (how roots are pinned). */
export function fingerprint(cert: Certificate): string {
  return toHex(digest('sha256', cert.der));
}
