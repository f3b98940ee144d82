/**
 * CBOR (RFC 8949): an encoder that always produces core deterministic encoding (§4.2.1: preferred
 * serialization, definite lengths, map keys sorted bytewise by their encoding) and a strict decoder
 * (bounds, nesting depth, UTF-8, duplicate keys; with `deterministic` also §4.2.1 conformance).
 */
import { FormatError } from '../errors.js';
import { compareBytes, concatAll, toHex, utf8, view } from '../util/bytes.js';

/** A decoded tag (§3.4): tag number and its content. */
export class Tagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** The data model: integers are numbers when safe, bigints otherwise; maps keep insertion order. */
export type CborValue = number | bigint | string | boolean | null | undefined | Uint8Array | CborValue[] | CborMap | Tagged;
export type CborMap = Map<CborValue, CborValue>;

export interface DecodeOptions {
  /** Reject anything that is not core deterministic (RFC 8949 §4.2.1). */
  deterministic?: boolean;
  /** Maximum nesting of arrays, maps and tags (default 64). */
  maxDepth?: number;
  /** Name of the document in error messages (default "CBOR"). */
  what?: string;
}

// ---- encoder

function head(major: number, n: number | bigint): Uint8Array {
  const v = BigInt(n);
  if (v < 0n || v >= 1n << 64n) throw new FormatError('CBOR', `argument ${v} out of range for major type ${major}`);
  const m = major << 5;
  if (v < 24n) return Uint8Array.of(m | Number(v));
  if (v < 0x100n) return Uint8Array.of(m | 24, Number(v));
  if (v < 0x10000n) return Uint8Array.of(m | 25, Number(v >> 8n), Number(v & 0xffn));
  const out = new Uint8Array(v < 0x100000000n ? 5 : 9);
  out[0] = m | (out.length === 5 ? 26 : 27);
  if (out.length === 5) view(out).setUint32(1, Number(v));
  else view(out).setBigUint64(1, v);
  return out;
}

/** §4.2.2 preferred serialization of a float: the shortest of binary16/32/64 that keeps the value. */
function encodeFloat(x: number): Uint8Array {
  const h = toHalf(x);
  if (h !== undefined) return Uint8Array.of(0xf9, h >> 8, h & 0xff);
  if (Math.fround(x) === x || Number.isNaN(x)) {
    const b = Uint8Array.of(0xfa, 0, 0, 0, 0);
    view(b).setFloat32(1, x);
    return b;
  }
  const b = Uint8Array.of(0xfb, 0, 0, 0, 0, 0, 0, 0, 0);
  view(b).setFloat64(1, x);
  return b;
}

/** binary16 bits of `x` when the conversion is exact, else undefined. */
function toHalf(x: number): number | undefined {
  if (Number.isNaN(x)) return 0x7e00;
  if (x === Infinity) return 0x7c00;
  if (x === -Infinity) return 0xfc00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  const e = Math.floor(Math.log2(a));
  if (e >= -14 && e <= 15) {
    const mant = a / 2 ** e - 1; // normal: 10-bit fraction
    const f = mant * 1024;
    return Number.isInteger(f) && 2 ** e * (1 + f / 1024) === a ? sign | ((e + 15) << 10) | f : undefined;
  }
  const f = a / 2 ** -24; // subnormal
  return e < -14 && Number.isInteger(f) && f < 1024 ? sign | f : undefined;
}

function encodeParts(v: CborValue, out: Uint8Array[]): void {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) out.push(v >= 0 ? head(0, v) : head(1, -1 - v));
    else out.push(encodeFloat(v));
  } else if (typeof v === 'bigint') {
    out.push(v >= 0n ? head(0, v) : head(1, -1n - v));
  } else if (typeof v === 'string') {
    const b = utf8(v);
    out.push(head(3, b.length), b);
  } else if (typeof v === 'boolean') {
    out.push(Uint8Array.of(v ? 0xf5 : 0xf4));
  } else if (v === null) {
    out.push(Uint8Array.of(0xf6));
  } else if (v === undefined) {
    out.push(Uint8Array.of(0xf7));
  } else if (v instanceof Uint8Array) {
    out.push(head(2, v.length), v);
  } else if (Array.isArray(v)) {
    out.push(head(4, v.length));
    for (const x of v) encodeParts(x, out);
  } else if (v instanceof Map) {
    const entries = [...v].map(([k, x]) => [encodeCbor(k), encodeCbor(x)] as const);
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    for (let i = 1; i < entries.length; i++) {
      if (compareBytes(entries[i - 1]![0], entries[i]![0]) === 0) throw new FormatError('CBOR', 'duplicate map key');
    }
    out.push(head(5, entries.length));
    for (const [k, x] of entries) out.push(k, x);
  } else if (v instanceof Tagged) {
    out.push(head(6, v.tag));
    encodeParts(v.value, out);
  } else {
    throw new FormatError('CBOR', `cannot encode ${typeof v}`);
  }
}

/** Core deterministic encoding of `v` (RFC 8949 §4.2.1). */
export function encodeCbor(v: CborValue): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeParts(v, parts);
  return parts.length === 1 ? parts[0]! : concatAll(parts);
}

// ---- decoder

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

class Decoder {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly opts: Required<DecodeOptions>,
  ) {}

  fail(detail: string, at = this.pos): never {
    throw new FormatError(this.opts.what, `${detail} at byte ${at}`);
  }

  need(n: number | bigint, at: number): number {
    if (BigInt(this.pos) + BigInt(n) > BigInt(this.buf.length)) this.fail(`truncated: ${n} bytes needed, ${this.buf.length - this.pos} left`, at);
    return Number(n);
  }

  /** Reads the head; returns [major, ai, argument]. Argument is -1n for indefinite length. */
  head(): [number, number, bigint] {
    const at = this.pos;
    this.need(1, at);
    const ib = this.buf[this.pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (ai < 24) return [major, ai, BigInt(ai)];
    if (ai >= 28 && ai <= 30) this.fail(`reserved additional information ${ai}`, at);
    if (ai === 31) {
      if (major === 0 || major === 1 || major === 6) this.fail(`indefinite length not allowed for major type ${major}`, at);
      if (this.opts.deterministic) this.fail('indefinite-length item (not core deterministic)', at);
      return [major, ai, -1n];
    }
    const n = 1 << (ai - 24);
    this.need(n, at);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buf[this.pos++]!);
    if (this.opts.deterministic && major !== 7) {
      const min = [24n, 0x100n, 0x10000n, 0x100000000n][ai - 24]!;
      if (v < min) this.fail('non-shortest argument (not core deterministic)', at);
    }
    return [major, ai, v];
  }

  int(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  bytes(n: bigint, at: number): Uint8Array {
    const len = this.need(n, at);
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Concatenates the chunks of an indefinite-length string (each must be definite, same major type). */
  chunks(major: number): Uint8Array {
    const parts: Uint8Array[] = [];
    for (;;) {
      this.need(1, this.pos);
      if (this.buf[this.pos] === 0xff) {
        this.pos++;
        return concatAll(parts);
      }
      const at = this.pos;
      const [m, , n] = this.head();
      if (m !== major || n < 0n) this.fail('bad chunk in indefinite-length string', at);
      parts.push(this.bytes(n, at));
    }
  }

  item(depth: number): CborValue {
    const at = this.pos;
    const [major, ai, arg] = this.head();
    switch (major) {
      case 0:
        return this.int(arg);
      case 1:
        return this.int(-1n - arg);
      case 2:
        return Uint8Array.from(arg < 0n ? this.chunks(2) : this.bytes(arg, at));
      case 3: {
        const raw = arg < 0n ? this.chunks(3) : this.bytes(arg, at);
        try {
          return strictUtf8.decode(raw);
        } catch {
          return this.fail('text string is not valid UTF-8', at);
        }
      }
      case 4:
      case 5:
      case 6:
        if (depth >= this.opts.maxDepth) this.fail(`nesting deeper than ${this.opts.maxDepth}`, at);
        if (major === 4) return this.array(arg, depth + 1);
        if (major === 5) return this.map(arg, depth + 1, at);
        if (arg > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`tag number ${arg} too large`, at);
        return new Tagged(Number(arg), this.item(depth + 1));
      default:
        return this.simple(ai, arg, at);
    }
  }

  array(n: bigint, depth: number): CborValue[] {
    const out: CborValue[] = [];
    if (n < 0n) {
      while (!this.isBreak()) out.push(this.item(depth));
      return out;
    }
    // every element needs at least one byte: a length larger than the rest of the input is a lie
    this.need(n, this.pos);
    for (let i = 0n; i < n; i++) out.push(this.item(depth));
    return out;
  }

  map(n: bigint, depth: number, at: number): CborMap {
    const out: CborMap = new Map();
    const seen = new Set<string>();
    let prev: Uint8Array | undefined;
    if (n >= 0n) this.need(n * 2n, this.pos);
    for (let i = 0n; n < 0n ? !this.isBreak() : i < n; i++) {
      const kAt = this.pos;
      const k = this.item(depth);
      const kb = this.buf.subarray(kAt, this.pos);
      const id = toHex(kb);
      if (seen.has(id)) this.fail('duplicate map key', kAt);
      seen.add(id);
      if (this.opts.deterministic && prev && compareBytes(prev, kb) >= 0) this.fail('map keys not sorted bytewise (not core deterministic)', kAt);
      prev = kb;
      out.set(k, this.item(depth));
    }
    if (out.size !== seen.size) this.fail('map keys collide after decoding', at);
    return out;
  }

  isBreak(): boolean {
    this.need(1, this.pos);
    if (this.buf[this.pos] !== 0xff) return false;
    this.pos++;
    return true;
  }

  simple(ai: number, arg: bigint, at: number): CborValue {
    if (ai === 31) this.fail('unexpected break', at);
    if (ai < 24 || ai === 24) {
      const v = Number(arg);
      if (ai === 24 && v < 32) this.fail(`simple value ${v} in two-byte form`, at);
      if (v === 20) return false;
      if (v === 21) return true;
      if (v === 22) return null;
      if (v === 23) return undefined;
      return this.fail(`unsupported simple value ${v}`, at);
    }
    const b = new DataView(new ArrayBuffer(8));
    b.setBigUint64(0, arg);
    const x = ai === 25 ? fromHalf(Number(arg)) : ai === 26 ? b.getFloat32(4) : b.getFloat64(0);
    if (this.opts.deterministic) {
      const pref = encodeFloat(x);
      if (pref.length !== 1 + (1 << (ai - 24))) this.fail('float not in preferred (shortest) form', at);
    }
    return x;
  }
}

function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Decodes exactly one data item spanning all of `buf`. */
export function decodeCbor(buf: Uint8Array, opts: DecodeOptions = {}): CborValue {
  const d = new Decoder(buf, { deterministic: false, maxDepth: 64, what: 'CBOR', ...opts });
  const v = d.item(0);
  if (d.pos !== buf.length) d.fail(`${buf.length - d.pos} trailing bytes after the data item`);
  return v;
}

// ---- typed accessors for decoded documents (each throws a FormatError naming `what`)

export function asMap(v: CborValue, what: string): CborMap {
  if (!(v instanceof Map)) throw new FormatError(what, 'expected a map');
  return v;
}

export function asArray(v: CborValue, what: string): CborValue[] {
  if (!Array.isArray(v)) throw new FormatError(what, 'expected an array');
  return v;
}

export function asBytes(v: CborValue, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new FormatError(what, 'expected a byte string');
  return v;
}

export function asText(v: CborValue, what: string): string {
  if (typeof v !== 'string') throw new FormatError(what, 'expected a text string');
  return v;
}

export function asInt(v: CborValue, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new FormatError(what, 'expected an integer');
  return v;
}

/** The content of tag `tag`, or a FormatError. */
export function untag(v: CborValue, tag: number, what: string): CborValue {
  if (!(v instanceof Tagged) || v.tag !== tag) throw new FormatError(what, `expected tag ${tag}`);
  return v.value;
}

/** CBOR extended diagnostic notation (RFC 8949 §8), for `manifest inspect`. */
export function diagnostic(v: CborValue): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return `h'${toHex(v)}'`;
  if (Array.isArray(v)) return `[${v.map(diagnostic).join(', ')}]`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${diagnostic(k)}: ${diagnostic(x)}`).join(', ')}}`;
  return `${v.tag}(${diagnostic(v.value)})`;
}
