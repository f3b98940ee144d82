/**
 * A strict, bounded DER reader (ITU-T X.690 §8 and §10: definite lengths only, minimal length
 * encoding, single-byte tags up to 30) for the certificates and keys evidence carries. Every read is
 * bounds-checked against its enclosing element; nesting depth is limited by the callers' structure.
 */
import { FormatError } from '../errors.js';

export interface Der {
  /** Identifier octet: class, constructed bit and tag number (low-tag form). */
  tag: number;
  /** The whole element (identifier, length and contents). */
  raw: Uint8Array;
  /** The contents octets. */
  body: Uint8Array;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8: 0x0c,
  PRINTABLE: 0x13,
  IA5: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Reads the element at `offset` of `buf`; `what` names the structure in errors. */
export function readDer(buf: Uint8Array, offset: number, what: string): Der {
  if (offset + 2 > buf.length) throw new FormatError(what, `truncated DER element at offset ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new FormatError(what, `multi-byte DER tag at offset ${offset}`);
  let len = buf[offset + 1]!;
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new FormatError(what, `unsupported DER length form at offset ${offset}`);
    if (offset + 2 + n > buf.length) throw new FormatError(what, `truncated DER length at offset ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    if (len < 0x80 || (n > 1 && buf[offset + 2] === 0)) throw new FormatError(what, `non-minimal DER length at offset ${offset}`);
    head += n;
  }
  const end = offset + head + len;
  if (end > buf.length) throw new FormatError(what, `DER element at offset ${offset} (${len} bytes) overruns its ${buf.length}-byte container`);
  return { tag, raw: buf.subarray(offset, end), body: buf.subarray(offset + head, end) };
}

/** The elements of a constructed value's contents, in order. */
export function children(d: Der, what: string): Der[] {
  if (!(d.tag & 0x20)) throw new FormatError(what, `expected a constructed DER value, got tag 0x${d.tag.toString(16)}`);
  const out: Der[] = [];
  for (let off = 0; off < d.body.length; ) {
    const c = readDer(d.body, off, what);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

/** Parses exactly one element spanning all of `buf` with the expected tag. */
export function parseDer(buf: Uint8Array, tag: number, what: string): Der {
  const d = readDer(buf, 0, what);
  if (d.raw.length !== buf.length) throw new FormatError(what, `${buf.length - d.raw.length} trailing bytes after the DER value`);
  return expectTag(d, tag, what);
}

export function expectTag(d: Der | undefined, tag: number, what: string): Der {
  if (!d) throw new FormatError(what, `missing DER element (expected tag 0x${tag.toString(16)})`);
  if (d.tag !== tag) throw new FormatError(what, `expected DER tag 0x${tag.toString(16)}, got 0x${d.tag.toString(16)}`);
  return d;
}

/** Dotted text of an OBJECT IDENTIFIER's contents octets (X.690 §8.19). */
export function oidText(body: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of body) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  return [first < 80 ? Math.floor(first / 40) : 2, first < 80 ? first % 40 : first - 80, ...parts].join('.');
}

/** A non-negative INTEGER's value as a number (for small fields: versions, SPL bytes). */
export function smallInt(d: Der, what: string): number {
  expectTag(d, TAG.INTEGER, what);
  if (d.body.length === 0 || d.body.length > 6 || d.body[0]! & 0x80) throw new FormatError(what, 'expected a small non-negative INTEGER');
  return d.body.reduce((n, b) => n * 256 + b, 0);
}

/** The bytes of a BIT STRING with no unused bits. */
export function bitString(d: Der, what: string): Uint8Array {
  expectTag(d, TAG.BIT_STRING, what);
  if (d.body.length === 0 || d.body[0] !== 0) throw new FormatError(what, 'BIT STRING with unused bits');
  return d.body.subarray(1);
}

const text = new TextDecoder('utf-8', { fatal: false });

/** A string value (UTF8String, PrintableString, IA5String) as text. */
export function derString(d: Der): string {
  return text.decode(d.body);
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) as seconds since the epoch (RFC 5280 §4.1.2.5). */
export function derTime(d: Der, what: string): number {
  const s = derString(d);
  const m =
    d.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : d.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw new FormatError(what, `bad time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (d.tag === TAG.UTC_TIME) year += year >= 50 ? 1900 : 2000;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
}
