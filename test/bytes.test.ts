/**
 * The byte helpers that replace Node's Buffer in the code browsers run (src/util/bytes.ts) give what
 * Buffer gives — Node's Buffer is the oracle — on random bytes and on the edge cases where encoders
 * differ: a UTF-8 BOM (TextDecoder drops it by default, Buffer keeps it), invalid UTF-8, lone
 * surrogates, an odd UTF-16LE byte, prefixes in the bytewise order, many parts to concatenate.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compareBytes, concatAll, latin1, latin1Bytes, toHex, utf16le, utf16leBytes, utf8, utf8Text } from '../src/util/bytes.js';

const samples = [
  new Uint8Array(0),
  Uint8Array.of(0xef, 0xbb, 0xbf, 0x41), // BOM + "A"
  Uint8Array.of(0x61, 0xc3, 0x28, 0xe2, 0x82, 0xff, 0xf0, 0x9f, 0x98), // invalid and truncated sequences
  Uint8Array.of(0x00, 0xd8, 0x41), // lone high surrogate, odd trailing byte
  ...Array.from({ length: 64 }, (_, i) => new Uint8Array(randomBytes(i * 7))),
];
const texts = ['', 'EFI PART', 'grüße ✓ 🚀', '\ufeffbom', 'lone \ud800 surrogate', '\0nul\0'];

describe('util/bytes against Buffer', () => {
  it('decoders: latin1, utf16le, utf8Text, toHex', () => {
    for (const b of samples) {
      const n = Buffer.from(b);
      expect(latin1(b)).toBe(n.toString('latin1'));
      expect(utf16le(b)).toBe(n.toString('utf16le'));
      expect(utf8Text(b)).toBe(n.toString('utf8'));
      expect(toHex(b)).toBe(n.toString('hex'));
    }
  });

  it('encoders: latin1Bytes, utf16leBytes, utf8', () => {
    for (const s of [...texts, ...samples.map((b) => Buffer.from(b).toString('latin1'))]) {
      expect(Buffer.from(latin1Bytes(s)).equals(Buffer.from(s, 'latin1'))).toBe(true);
      expect(Buffer.from(utf16leBytes(s)).equals(Buffer.from(s, 'utf16le'))).toBe(true);
      expect(Buffer.from(utf8(s)).equals(Buffer.from(s, 'utf8'))).toBe(true);
    }
  });

  it('compareBytes orders as Buffer.compare (prefixes first)', () => {
    const keys = [...samples, Uint8Array.of(1), Uint8Array.of(1, 0), Uint8Array.of(0, 0xff), Uint8Array.of(0xff)];
    for (const a of keys) for (const b of keys) expect(compareBytes(a, b)).toBe(Buffer.compare(a, b));
  });

  it('concatAll joins any number of parts (no argument-count limit) as Buffer.concat', () => {
    const parts = Array.from({ length: 300_000 }, (_, i) => Uint8Array.of(i & 0xff));
    expect(Buffer.from(concatAll(parts)).equals(Buffer.concat(parts))).toBe(true);
    expect(concatAll([])).toEqual(new Uint8Array(0));
  });
});
