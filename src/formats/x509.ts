/**
 * X.509 v3 certificates (RFC 5280 §4.1) as evidence chains carry them: the signed TBS bytes, names,
 * validity, the public key, the signature algorithm (with RSASSA-PSS parameters, RFC 4055 §3.1) and
 * the extensions by OID. Parsing only: signatures are checked in src/verify.
 */
import { FormatError } from '../errors.js';
import { bytesEqual, decodeBase64, toHex } from '../util/bytes.js';
import { bitString, children, type Der, derString, derTime, expectTag, oidText, parseDer, readDer, smallInt, TAG } from './der.js';

export const OID = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  secp256r1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  commonName: '2.5.4.3',
  ed25519: '1.3.101.112',
} as const;

export interface PublicKeyInfo {
  /** SubjectPublicKeyInfo DER, its algorithm OID and (EC) curve OID. */
  spki: Uint8Array;
  keyAlg: string;
  curve?: string;
}

export interface Certificate extends PublicKeyInfo {
  /** The whole DER certificate. */
  der: Uint8Array;
  /** tbsCertificate: the bytes the issuer signed. */
  tbs: Uint8Array;
  serial: string;
  issuer: Name;
  subject: Name;
  notBefore: number;
  notAfter: number;
  /** signatureAlgorithm: OID; for RSASSA-PSS its hash OID and salt length. */
  sigAlg: { oid: string; hash?: string; saltLength?: number };
  signature: Uint8Array;
  /** Extension OID → extnValue contents (the DER inside the OCTET STRING). */
  extensions: Map<string, Uint8Array>;
}

export interface Name {
  /** RFC 4514-style text, attributes in order (e.g. "CN=SEV-Milan, O=Advanced Micro Devices"). */
  text: string;
  commonName?: string;
  /** The Name DER (compared byte for byte when chaining). */
  der: Uint8Array;
}

const SHORT: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU' };

function name(d: Der, what: string): Name {
  const parts: string[] = [];
  let commonName: string | undefined;
  for (const rdn of children(expectTag(d, TAG.SEQUENCE, what), what)) {
    for (const atv of children(expectTag(rdn, TAG.SET, what), what)) {
      const [type, value] = children(expectTag(atv, TAG.SEQUENCE, what), what);
      const oid = oidText(expectTag(type, TAG.OID, what).body);
      const v = derString(value ?? type!);
      if (oid === OID.commonName) commonName = v;
      parts.push(`${SHORT[oid] ?? oid}=${v}`);
    }
  }
  return { text: parts.join(', '), ...(commonName === undefined ? {} : { commonName }), der: d.raw };
}

function algorithm(d: Der, what: string): Certificate['sigAlg'] {
  const [oidDer, params] = children(expectTag(d, TAG.SEQUENCE, what), what);
  const oid = oidText(expectTag(oidDer, TAG.OID, what).body);
  if (oid !== OID.rsassaPss || !params) return { oid };
  // RSASSA-PSS-params (RFC 4055 §3.1): [0] hashAlgorithm, [1] maskGenAlgorithm, [2] saltLength, [3] trailerField
  const out: Certificate['sigAlg'] = { oid, hash: '1.3.14.3.2.26', saltLength: 20 };
  for (const p of children(expectTag(params, TAG.SEQUENCE, what), what)) {
    const inner = readDer(p.body, 0, what);
    if (p.tag === 0xa0) out.hash = oidText(expectTag(children(inner, what)[0], TAG.OID, what).body);
    if (p.tag === 0xa2) out.saltLength = smallInt(inner, what);
  }
  return out;
}

function spkiOf(spki: Der, what: string): PublicKeyInfo {
  const [keyAlgDer] = children(expectTag(spki, TAG.SEQUENCE, what), what);
  const [keyOid, curveOid] = children(expectTag(keyAlgDer, TAG.SEQUENCE, what), what);
  return { spki: spki.raw, keyAlg: oidText(expectTag(keyOid, TAG.OID, what).body), ...(curveOid?.tag === TAG.OID ? { curve: oidText(curveOid.body) } : {}) };
}

/** The public key of PEM text (a PUBLIC KEY block, SubjectPublicKeyInfo). @throws {FormatError} when there is none or it does not parse. */
export function readPublicKey(pem: string, what: string): PublicKeyInfo {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem);
  if (!m) throw new FormatError(what, 'no PEM PUBLIC KEY block');
  return spkiOf(parseDer(base64(m[1]!, what), TAG.SEQUENCE, what), what);
}

/** Parses one DER certificate. @throws FormatError naming the first malformed field. */
export function parseCertificate(der: Uint8Array, what = 'X.509 certificate'): Certificate {
  const top = children(parseDer(der, TAG.SEQUENCE, what), what);
  if (top.length !== 3) throw new FormatError(what, 'a Certificate is tbsCertificate, signatureAlgorithm and signatureValue (RFC 5280 §4.1)');
  const [tbsDer, sigAlgDer, sigDer] = top;
  const tbs = expectTag(tbsDer, TAG.SEQUENCE, what);
  const f = children(tbs, what);
  let i = f[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  if (f.length < i + 6) throw new FormatError(what, 'TBSCertificate lacks serial, signature, issuer, validity, subject or key (RFC 5280 §4.1)');
  const serial = expectTag(f[i++], TAG.INTEGER, what);
  i++; // signature AlgorithmIdentifier (must equal signatureAlgorithm; checked below)
  const issuer = name(f[i++]!, `${what} issuer`);
  const validity = children(expectTag(f[i++], TAG.SEQUENCE, what), what);
  if (validity.length !== 2) throw new FormatError(what, 'Validity needs notBefore and notAfter (RFC 5280 §4.1.2.5)');
  const [nb, na] = validity;
  const subject = name(f[i++]!, `${what} subject`);
  const spki = expectTag(f[i++], TAG.SEQUENCE, what);
  const extensions = new Map<string, Uint8Array>();
  for (; i < f.length; i++) {
    if (f[i]!.tag !== 0xa3) continue;
    for (const ext of children(expectTag(readDer(f[i]!.body, 0, what), TAG.SEQUENCE, what), what)) {
      const e = children(expectTag(ext, TAG.SEQUENCE, what), what);
      extensions.set(oidText(expectTag(e[0], TAG.OID, what).body), expectTag(e[e.length - 1], TAG.OCTET_STRING, what).body);
    }
  }
  const sigAlg = algorithm(sigAlgDer!, what);
  const tbsSigAlg = f[(f[0]?.tag === 0xa0 ? 1 : 0) + 1];
  if (!tbsSigAlg || !bytesEqual(tbsSigAlg.raw, sigAlgDer!.raw))
    throw new FormatError(what, 'the TBS signature algorithm differs from signatureAlgorithm (RFC 5280 §4.1.1.2)');
  return {
    der,
    tbs: tbs.raw,
    serial: toHex(serial.body),
    issuer,
    subject,
    notBefore: derTime(nb!, `${what} notBefore`),
    notAfter: derTime(na!, `${what} notAfter`),
    ...spkiOf(spki, what),
    sigAlg,
    signature: bitString(sigDer!, what),
    extensions,
  };
}

/** Every certificate in PEM text (BEGIN CERTIFICATE blocks) or one DER certificate. @throws {FormatError} naming the block that does not parse. */
export function readCertificates(bytes: Uint8Array, what: string): Certificate[] {
  if (bytes[0] === 0x30) return [parseCertificate(bytes, what)];
  const text = new TextDecoder().decode(bytes);
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)];
  if (blocks.length === 0) throw new FormatError(what, 'neither a DER certificate nor PEM with a CERTIFICATE block');
  return blocks.map((m, i) => parseCertificate(base64(m[1]!, `${what} PEM block ${i}`), `${what} certificate ${i}`));
}

function base64(s: string, what: string): Uint8Array {
  const bytes = decodeBase64(s.replace(/\s+/g, ''));
  if (!bytes) throw new FormatError(what, 'bad base64');
  return bytes;
}
