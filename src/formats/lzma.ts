/**
 * LZMA decoder for the "LZMA alone" layout edk2 stores in a GUIDed section EE4E5898-3914-4259-9D6E-
 * DC7BD79403CF (MdeModulePkg/Library/LzmaCustomDecompressLib, LzmaDecompress.c): 5 property bytes
 * (lc/lp/pb, dictionary size), a UINT64 uncompressed size, then the range-coded stream. The algorithm
 * follows Igor Pavlov's "LZMA specification" (lzma-specification.txt of the LZMA SDK, sections "The
 * range decoder", "The literal decoder", "The match length decoder", "The distance decoder"). Bounded:
 * the output is the size the header declares, refused above `maxOutput`; every read is bounds-checked and
 * a distance before the start of the output is a FormatError.
 */
import { FormatError } from '../errors.js';
import { u32le, u64le } from '../util/bytes.js';

const WHAT = 'LZMA stream';
/** 13-byte header: properties byte, UINT32 dictionary size, UINT64 uncompressed size. */
const HEADER = 13;
const BIT_MODEL_TOTAL = 1 << 11;
const MOVE_BITS = 5;
const TOP = 1 << 24;
const LEN_TO_POS_STATES = 4;
const END_POS_MODEL_INDEX = 14;
const FULL_DISTANCES = 1 << (END_POS_MODEL_INDEX >> 1);
const ALIGN_BITS = 4;
const MATCH_MIN_LEN = 2;

class RangeDecoder {
  range = 0xffffffff;
  code = 0;
  constructor(
    private readonly buf: Uint8Array,
    private pos: number,
  ) {
    if (this.byte() !== 0) throw new FormatError(WHAT, 'the range coder does not start with a zero byte');
    for (let i = 0; i < 4; i++) this.code = this.code * 256 + this.byte();
    if (this.code === this.range) throw new FormatError(WHAT, 'corrupt range coder start');
  }

  private byte(): number {
    if (this.pos >= this.buf.length) throw new FormatError(WHAT, `compressed data ends at byte ${this.buf.length} before the declared size is reached`);
    return this.buf[this.pos++]!;
  }

  private normalize(): void {
    if (this.range < TOP) {
      this.range *= 256;
      this.code = this.code * 256 + this.byte();
    }
  }

  bit(probs: Uint16Array, i: number): number {
    const p = probs[i]!;
    const bound = (this.range >>> 11) * p;
    let b: number;
    if (this.code < bound) {
      probs[i] = p + ((BIT_MODEL_TOTAL - p) >>> MOVE_BITS);
      this.range = bound;
      b = 0;
    } else {
      probs[i] = p - (p >>> MOVE_BITS);
      this.code -= bound;
      this.range -= bound;
      b = 1;
    }
    this.normalize();
    return b;
  }

  direct(bits: number): number {
    let res = 0;
    for (let i = 0; i < bits; i++) {
      this.range = this.range >>> 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      res = res * 2 + b;
      this.normalize();
    }
    return res;
  }

  tree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = m * 2 + this.bit(probs, base + m);
    return m - (1 << bits);
  }

  reverseTree(probs: Uint16Array, base: number, bits: number): number {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(probs, base + m);
      m = m * 2 + b;
      sym |= b << i;
    }
    return sym;
  }
}

const probs = (n: number) => new Uint16Array(n).fill(BIT_MODEL_TOTAL >>> 1);

/** "The match length decoder": choice bits, then 3-bit low/mid trees per pos state or an 8-bit high tree. */
class LenDecoder {
  private readonly choice = probs(2);
  private readonly low: Uint16Array;
  private readonly mid: Uint16Array;
  private readonly high = probs(256);
  constructor(posStates: number) {
    this.low = probs(posStates << 3);
    this.mid = probs(posStates << 3);
  }
  decode(rc: RangeDecoder, posState: number): number {
    if (rc.bit(this.choice, 0) === 0) return rc.tree(this.low, posState << 3, 3);
    if (rc.bit(this.choice, 1) === 0) return 8 + rc.tree(this.mid, posState << 3, 3);
    return 16 + rc.tree(this.high, 0, 8);
  }
}

/** Decodes an "LZMA alone" buffer (edk2's LZMA section body); refuses outputs larger than `maxOutput`. */
export function lzmaDecompress(input: Uint8Array, maxOutput: number): Uint8Array {
  if (input.length < HEADER + 5) throw new FormatError(WHAT, `${input.length} bytes: shorter than the 13-byte header and the range coder start`);
  let d = input[0]!;
  if (d >= 9 * 5 * 5) throw new FormatError(WHAT, `properties byte 0x${d.toString(16)} is not a valid lc/lp/pb`);
  const lc = d % 9;
  d = Math.floor(d / 9);
  const lp = d % 5;
  const pb = Math.floor(d / 5);
  const dictSize = Math.max(u32le(input, 1), 1 << 12);
  const declared = u64le(input, 5);
  if (declared === 0xffffffffffffffffn) throw new FormatError(WHAT, 'unknown uncompressed size (end-marker streams are not used by edk2)');
  if (declared > BigInt(maxOutput)) throw new FormatError(WHAT, `declares ${declared} uncompressed bytes, more than the ${maxOutput} allowed`);
  const size = Number(declared);
  const out = new Uint8Array(size);
  const rc = new RangeDecoder(input, HEADER);

  const posStates = 1 << pb;
  const literal = probs(0x300 << (lc + lp));
  const isMatch = probs(12 << 4);
  const isRep = probs(12);
  const isRepG0 = probs(12);
  const isRepG1 = probs(12);
  const isRepG2 = probs(12);
  const isRep0Long = probs(12 << 4);
  const posSlot = probs(LEN_TO_POS_STATES << 6);
  const posDecoders = probs(1 + FULL_DISTANCES - END_POS_MODEL_INDEX);
  const align = probs(1 << ALIGN_BITS);
  const lenDecoder = new LenDecoder(posStates);
  const repLenDecoder = new LenDecoder(posStates);

  let pos = 0;
  let state = 0;
  let rep0 = 0;
  let rep1 = 0;
  let rep2 = 0;
  let rep3 = 0;
  const before = (dist: number) => {
    if (dist >= pos || dist >= dictSize) throw new FormatError(WHAT, `match distance ${dist + 1} at output byte ${pos} reaches before the start of the data`);
    return out[pos - dist - 1]!;
  };

  while (pos < size) {
    const posState = pos & (posStates - 1);
    if (rc.bit(isMatch, (state << 4) + posState) === 0) {
      // "The literal decoder": context from the previous byte and position; after a match, the byte at rep0 guides the first bits.
      const prev = pos > 0 ? out[pos - 1]! : 0;
      const base = 0x300 * (((pos & ((1 << lp) - 1)) << lc) + (prev >>> (8 - lc)));
      let sym = 1;
      if (state >= 7) {
        let matchByte = before(rep0);
        while (sym < 0x100) {
          const matchBit = (matchByte >>> 7) & 1;
          matchByte <<= 1;
          const b = rc.bit(literal, base + ((1 + matchBit) << 8) + sym);
          sym = (sym << 1) | b;
          if (matchBit !== b) break;
        }
      }
      while (sym < 0x100) sym = (sym << 1) | rc.bit(literal, base + sym);
      out[pos++] = sym - 0x100;
      state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
      continue;
    }
    let len: number;
    if (rc.bit(isRep, state) !== 0) {
      if (pos === 0) throw new FormatError(WHAT, 'a repeated match before any output');
      if (rc.bit(isRepG0, state) === 0) {
        if (rc.bit(isRep0Long, (state << 4) + posState) === 0) {
          // short rep: one byte from rep0
          state = state < 7 ? 9 : 11;
          out[pos] = before(rep0);
          pos++;
          continue;
        }
      } else {
        let dist: number;
        if (rc.bit(isRepG1, state) === 0) dist = rep1;
        else {
          if (rc.bit(isRepG2, state) === 0) dist = rep2;
          else {
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      len = repLenDecoder.decode(rc, posState);
      state = state < 7 ? 8 : 11;
    } else {
      rep3 = rep2;
      rep2 = rep1;
      rep1 = rep0;
      len = lenDecoder.decode(rc, posState);
      state = state < 7 ? 7 : 10;
      // "The distance decoder": a 6-bit slot per length state, then reverse-tree, direct and align bits.
      const slot = rc.tree(posSlot, Math.min(len, LEN_TO_POS_STATES - 1) << 6, 6);
      if (slot < 4) rep0 = slot;
      else {
        const direct = (slot >>> 1) - 1;
        let dist = (2 | (slot & 1)) * 2 ** direct;
        if (slot < END_POS_MODEL_INDEX) dist += rc.reverseTree(posDecoders, dist - slot, direct);
        else dist += rc.direct(direct - ALIGN_BITS) * 16 + rc.reverseTree(align, 0, ALIGN_BITS);
        if (dist === 0xffffffff) throw new FormatError(WHAT, `end marker at output byte ${pos}, before the declared ${size} bytes`);
        rep0 = dist;
      }
    }
    len += MATCH_MIN_LEN;
    if (len > size - pos) throw new FormatError(WHAT, `a match of ${len} bytes at output byte ${pos} runs past the declared ${size} bytes`);
    before(rep0);
    for (let i = 0; i < len; i++, pos++) out[pos] = out[pos - rep0 - 1]!;
  }
  return out;
}
