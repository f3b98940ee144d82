// Spec: DSSE v1 (Dead Simple Signing Envelope protocol: PAE and the JSON envelope).
/**
 * The DSSE envelope itself, without verifying anything: its JSON shape, its strict base64 and the
 * pre-authentication encoding PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 * each signature covers. Uint8Array only (no node: import): the repository page checks signed
 * indexes in the browser with the same parsing as Node (./dsse.ts signs and verifies there).
 */
import { FormatError } from '../errors.js';
import { concatBytes, decodeBase64, utf8 } from '../util/bytes.js';

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid?: string; sig: string }[];
}

/** The DSSE pre-authentication encoding PAE(payloadType, body): the bytes each signature covers. */
export function pae(payloadType: string, body: Uint8Array): Uint8Array {
  const t = utf8(payloadType);
  return concatBytes(utf8(`DSSEv1 ${t.length} `), t, utf8(` ${body.length} `), body);
}

/**
 * Canonical base64: the standard alphabet with padding, exactly what re-encoding the bytes gives (no
 * base64url, no missing or extra padding).
 * @throws {FormatError} naming `what` otherwise.
 */
export function strictBase64(s: unknown, what: string): Uint8Array {
  const bytes = typeof s === 'string' ? decodeBase64(s, true) : undefined;
  if (!bytes) throw new FormatError('DSSE envelope', `${what} is not canonical base64 (standard alphabet, padded, re-encodes to itself)`);
  return bytes;
}

/**
 * Checks that parsed JSON `v` is a DSSE envelope: `payloadType`, `payload`, one or more
 * `signatures[].sig`, each `keyid` a string when present. Verifies nothing (see verifyEnvelope, which
 * also requires canonical base64).
 * @throws {FormatError} when a field is missing or of the wrong type, or there is no signature.
 */
export function parseEnvelope(v: unknown): Envelope {
  const e = v as Partial<Envelope> | null;
  if (!e || typeof e !== 'object' || typeof e.payloadType !== 'string' || typeof e.payload !== 'string' || !Array.isArray(e.signatures)) {
    throw new FormatError('DSSE envelope', 'expected {payloadType, payload, signatures[]}');
  }
  if (e.signatures.length === 0) throw new FormatError('DSSE envelope', 'no signatures');
  for (const [i, s] of e.signatures.entries()) {
    if (!s || typeof s !== 'object' || typeof s.sig !== 'string') throw new FormatError('DSSE envelope', `signatures[${i}].sig missing`);
    if ('keyid' in s && typeof s.keyid !== 'string') throw new FormatError('DSSE envelope', `signatures[${i}].keyid must be a string`);
  }
  return e as Envelope;
}
