/**
 * Certificate and signature checks through WebCrypto (`globalThis.crypto.subtle`: Node ≥ 20 and every
 * browser), so the verifier runs unchanged in a web page: ECDSA (P-256/P-384; X.509 signatures are DER
 * Ecdsa-Sig-Value, RFC 3279 §2.2.3, converted to the IEEE P1363 r||s WebCrypto takes) and RSASSA-PSS
 * (RFC 4055). Fail closed: an algorithm this file does not know is a failed check, never a pass.
 * Imported keys, certificate signatures and fingerprints are memoised (bounded, keyed by the bytes'
 * SHA-256): a verifier meets the same few chains over and over, and checks each once. In Node, ECDSA
 * verifies through node:crypto synchronously (as util/hash.ts hashes): WebCrypto's verify runs on the
 * thread pool, and the hop costs more than a P-256 verification.
 */
import { bytesEqual, toHex } from '../util/bytes.js';
import { digest, nodeCrypto } from '../util/hash.js';
import { children, expectTag, readDer, TAG } from '../formats/der.js';
import { type Certificate, OID } from '../formats/x509.js';

const HASH: Record<string, string> = { [OID.sha256]: 'SHA-256', [OID.sha384]: 'SHA-384' };
const CURVE: Record<string, { name: string; size: number; openssl: string }> = {
  [OID.secp256r1]: { name: 'P-256', size: 32, openssl: 'prime256v1' },
  [OID.secp384r1]: { name: 'P-384', size: 48, openssl: 'secp384r1' },
};

const subtle = () => globalThis.crypto.subtle;

/** A bounded memo (oldest entry dropped first): `get(key, make)` runs `make` once per key while it is held. */
export function memo<V>(max: number): (key: string, make: () => V) => V {
  const m = new Map<string, V>();
  return (key, make) => {
    let v = m.get(key);
    if (v === undefined) {
      v = make();
      if (m.size >= max) m.delete(m.keys().next().value!);
      m.set(key, v);
    }
    return v;
  };
}

/** WebCrypto's key type, named without the DOM lib (the build's tsconfig has none). */
type SubtleKey = Awaited<ReturnType<ReturnType<typeof subtle>['importKey']>>;
type ImportAlg = { name: 'ECDSA'; namedCurve: string } | { name: 'RSA-PSS'; hash: string };

const keys = memo<Promise<SubtleKey>>(256);
const nodeKeys = memo<ReturnType<NonNullable<typeof nodeCrypto>['createPublicKey']> | null>(256);
const signatures = memo<Promise<boolean>>(1024);
const fingerprints = new WeakMap<Certificate, string>();

/** A WebCrypto verification key for an SPKI, imported once per SPKI and algorithm. */
function importKey(spki: Uint8Array, alg: ImportAlg): Promise<SubtleKey> {
  const name = 'namedCurve' in alg ? alg.namedCurve : `${alg.name}/${alg.hash}`;
  return keys(`${name}:${toHex(digest('sha256', spki))}`, () => subtle().importKey('spki', source(spki), alg, false, ['verify']));
}
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
  if (nodeCrypto) {
    const c = nodeCrypto;
    const key = nodeKeys(`${curve.name}:${toHex(digest('sha256', spki))}`, () => {
      try {
        // node:crypto reads any Uint8Array here; its types name only Node's Buffer
        const k = c.createPublicKey({ key: spki, format: 'der', type: 'spki' } as unknown as Parameters<typeof c.createPublicKey>[0]);
        return k.asymmetricKeyDetails?.namedCurve === curve.openssl ? k : null;
      } catch {
        return null;
      }
    });
    if (!key || signature.length !== 2 * curve.size) return false;
    try {
      return c.verify(hash === 'SHA-256' ? 'sha256' : 'sha384', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  }
  try {
    const key = await importKey(spki, { name: 'ECDSA', namedCurve: curve.name });
    return await subtle().verify({ name: 'ECDSA', hash }, key, source(signature), source(data));
  } catch {
    return false;
  }
}

/** Did `issuer` sign `cert`? Names must chain and the signature must verify; unknown algorithms fail. Checked once per pair of certificates. */
export function signedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  return signatures(`${fingerprint(cert)}:${fingerprint(issuer)}`, () => checkSignedBy(cert, issuer));
}

async function checkSignedBy(cert: Certificate, issuer: Certificate): Promise<boolean> {
  if (!bytesEqual(cert.issuer.der, issuer.subject.der)) return false;
  const data = cert.tbs;
  try {
    if (cert.sigAlg.oid === OID.rsassaPss) {
      const hash = HASH[cert.sigAlg.hash ?? ''];
      if (!hash || (issuer.keyAlg !== OID.rsaEncryption && issuer.keyAlg !== OID.rsassaPss)) return false;
      const key = await importKey(rsaSpki(issuer), { name: 'RSA-PSS', hash });
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
  let fp = fingerprints.get(cert);
  if (fp === undefined) {
    fp = toHex(digest('sha256', cert.der));
    fingerprints.set(cert, fp);
  }
  return fp;
}
