/** Small byte helpers shared by every format parser. */
import { FormatError } from '../errors.js';

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Parses a hex string (optional 0x prefix, even length); `what` names the value in the error. */
export function fromHex(s: string, what: string, expectedLength?: number): Buffer {
  const h = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new FormatError(what, `not a hex string: ${JSON.stringify(s)}`);
  const b = Buffer.from(h, 'hex');
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

/** Canonical GUID text (lowercase) from the 16-byte mixed-endian EFI_GUID layout (UEFI 2.10 Appendix A). */
export function guidToString(b: Uint8Array, offset = 0): string {
  checkRange(b, offset, 16, 'GUID');
  const d = Buffer.from(b.buffer, b.byteOffset + offset, 16);
  const h = (x: Buffer) => x.toString('hex');
  return [
    d.readUInt32LE(0).toString(16).padStart(8, '0'),
    d.readUInt16LE(4).toString(16).padStart(4, '0'),
    d.readUInt16LE(6).toString(16).padStart(4, '0'),
    h(d.subarray(8, 10)),
    h(d.subarray(10, 16)),
  ].join('-');
}

/** Inverse of guidToString. */
export function guidToBytes(guid: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(guid);
  if (!m) throw new FormatError('GUID', `malformed ${JSON.stringify(guid)}`);
  const out = Buffer.alloc(16);
  out.writeUInt32LE(parseInt(m[1]!, 16), 0);
  out.writeUInt16LE(parseInt(m[2]!, 16), 4);
  out.writeUInt16LE(parseInt(m[3]!, 16), 6);
  Buffer.from(m[4]! + m[5]!, 'hex').copy(out, 8);
  return out;
}
