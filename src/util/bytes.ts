/** Small byte helpers shared by every format parser: Uint8Array and DataView only (no Buffer), so browsers can run them. */
import { FormatError } from '../errors.js';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

/** Parses a hex string (optional 0x prefix, even length); `what` names the value in the error. */
export function fromHex(s: string, what: string, expectedLength?: number): Uint8Array {
  const h = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new FormatError(what, `not a hex string: ${JSON.stringify(s)}`);
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  if (expectedLength !== undefined && b.length !== expectedLength) {
    throw new FormatError(what, `expected ${expectedLength} bytes, got ${b.length}`);
  }
  return b;
}

/** Throws a FormatError unless [offset, offset+length) lies inside `buf`. */
export function checkRange(buf: Uint8Array, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > buf.length) {
    throw new FormatError(what, `range 0x${offset.toString(16)}+0x${length.toString(16)} lies outside the ${buf.length}-byte input`);
  }
}

/** A little-endian view of `b` (same memory). */
export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export const u16le = (b: Uint8Array, at: number): number => view(b).getUint16(at, true);
export const u32le = (b: Uint8Array, at: number): number => view(b).getUint32(at, true);
export const u64le = (b: Uint8Array, at: number): bigint => view(b).getBigUint64(at, true);

/** Writes `v` (below 2^53) as u64 LE without BigInt. */
export function setU64le(b: Uint8Array, v: number, at: number): void {
  const dv = view(b);
  dv.setUint32(at, v % 0x1_0000_0000, true);
  dv.setUint32(at + 4, Math.floor(v / 0x1_0000_0000), true);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytewise order (Buffer.compare): the first differing byte decides, a prefix sorts first. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return concatAll(parts);
}

/** concatBytes over an array (no spread: safe for any number of parts, as Buffer.concat). */
export function concatAll(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Each byte as one character (Buffer's 'latin1'). */
export function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** UTF-16LE text (Buffer's 'utf16le': a trailing odd byte is dropped). */
export function utf16le(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b[i]! | (b[i + 1]! << 8));
  return s;
}

/** One byte per character (Buffer.from(s, 'latin1')). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Standard-alphabet base64 (padding optional, as atob takes it); undefined for anything else. With
 * `canonical`, only the text re-encoding the bytes gives: padded, no stray bits in the last quantum.
 */
export function decodeBase64(s: string, canonical = false): Uint8Array | undefined {
  // atob also refuses a length of 4n+1 and padding that does not end a quantum
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1 || (s.includes('=') && s.length % 4 !== 0)) return undefined;
  const bin = atob(s);
  return canonical && btoa(bin) !== s ? undefined : latin1Bytes(bin);
}

/** UTF-16LE code units (Buffer.from(s, 'utf16le')). */
export function utf16leBytes(s: string): Uint8Array {
  const out = new Uint8Array(2 * s.length);
  const dv = view(out);
  for (let i = 0; i < s.length; i++) dv.setUint16(2 * i, s.charCodeAt(i), true);
  return out;
}

const encoder = new TextEncoder();
export const utf8 = (s: string): Uint8Array => encoder.encode(s);

/** UTF-8 text as Buffer's 'utf8' decodes it: invalid sequences become U+FFFD, a leading BOM is kept. */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
export const utf8Text = (b: Uint8Array): string => decoder.decode(b);

/** Canonical GUID text (lowercase) from the 16-byte mixed-endian EFI_GUID layout (UEFI 2.10 Appendix A). */
export function guidToString(b: Uint8Array, offset = 0): string {
  checkRange(b, offset, 16, 'GUID');
  const d = b.subarray(offset, offset + 16);
  return [
    u32le(d, 0).toString(16).padStart(8, '0'),
    u16le(d, 4).toString(16).padStart(4, '0'),
    u16le(d, 6).toString(16).padStart(4, '0'),
    toHex(d.subarray(8, 10)),
    toHex(d.subarray(10, 16)),
  ].join('-');
}

/** Inverse of guidToString. */
export function guidToBytes(guid: string): Uint8Array {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(guid);
  if (!m) throw new FormatError('GUID', `malformed ${JSON.stringify(guid)}`);
  const out = new Uint8Array(16);
  const dv = view(out);
  dv.setUint32(0, parseInt(m[1]!, 16), true);
  dv.setUint16(4, parseInt(m[2]!, 16), true);
  dv.setUint16(6, parseInt(m[3]!, 16), true);
  out.set(fromHex(m[4]! + m[5]!, 'GUID'), 8);
  return out;
}
