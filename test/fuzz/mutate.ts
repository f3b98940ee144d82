/**
 * Deterministic byte mutations for the fuzz harness: input `index` of a target is always the same bytes
 * (seed choice and mutations come from a PRNG keyed by target name, campaign seed and index), so a
 * failure is reproduced from its index alone.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** FNV-1a over a string: the PRNG key of (target, campaign seed, index). */
export function keyOf(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const c of parts.join('\0')) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Length/count values that break size arithmetic: 0, 1, 2^31−1, 2^32−1 and neighbours. */
const SPECIAL_U32 = [0, 1, 2, 0xff, 0x1000, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x4000_0000];
const SPECIAL_U16 = [0, 1, 0x7fff, 0x8000, 0xffff];
/** u64 values as (low, high) halves: 2^53, 2^63, 2^64−1, 2^32. */
const SPECIAL_U64: [number, number][] = [
  [0, 0x20_0000],
  [0, 0x8000_0000],
  [0xffff_ffff, 0xffff_ffff],
  [0, 1],
  [0xffff_f000, 0x1f_ffff],
];

export interface Mutation {
  bytes: Uint8Array;
  /** The seed used and each mutation applied, e.g. "seed 2: u32@0x3c=0xffffffff, truncate 0x1234". */
  description: string;
}

/**
 * A mutated copy of one of `seeds`: 1–4 of bit flips, byte sets, u16/u32/u64 fields set to special
 * values, truncation, chunk duplication (a table entry copied over another or appended) and
 * insertion/deletion. Offsets favour the first and last 4 KiB (where headers, footers and tables live)
 * and the `hot` ranges a target names.
 */
export function mutate(seeds: readonly Uint8Array[], key: number, hot: readonly [number, number][][] = []): Mutation {
  const r = prng(key);
  const int = (n: number) => Math.floor(r() * n);
  const si = int(seeds.length);
  let b: Uint8Array = seeds[si]!.slice();
  const ranges = hot[si] ?? [];
  const steps: string[] = [];
  const offset = (width: number): number => {
    const n = Math.max(1, b.length - width + 1);
    const p = r();
    if (p < 0.35 && ranges.length > 0) {
      const [from, to] = ranges[int(ranges.length)]!;
      return Math.min(n - 1, from + int(Math.max(1, to - from)));
    }
    if (p < 0.6) return Math.min(n - 1, int(Math.min(n, 4096)));
    if (p < 0.85) return Math.max(0, n - 1 - int(Math.min(n, 4096)));
    return int(n);
  };
  const aligned = (width: number) => {
    const o = offset(width);
    return r() < 0.7 ? o - (o % width) : o;
  };
  const count = 1 + int(4);
  for (let k = 0; k < count; k++) {
    const op = int(10);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const hex = (n: number) => `0x${n.toString(16)}`;
    if (op === 0 && b.length > 0) {
      const o = offset(1);
      const bit = int(8);
      b[o]! ^= 1 << bit;
      steps.push(`flip ${hex(o)}.${bit}`);
    } else if (op === 1 && b.length > 0) {
      const o = offset(1);
      const v = [0, 0xff, 0x7f, 0x80, int(256)][int(5)]!;
      b[o] = v;
      steps.push(`byte ${hex(o)}=${hex(v)}`);
    } else if (op === 2 && b.length >= 2) {
      const o = aligned(2);
      const v = SPECIAL_U16[int(SPECIAL_U16.length)]!;
      dv.setUint16(o, v, true);
      steps.push(`u16 ${hex(o)}=${hex(v)}`);
    } else if ((op === 3 || op === 4) && b.length >= 4) {
      const o = aligned(4);
      const v = SPECIAL_U32[int(SPECIAL_U32.length)]!;
      dv.setUint32(o, v, true);
      steps.push(`u32 ${hex(o)}=${hex(v)}`);
    } else if (op === 5 && b.length >= 8) {
      const o = aligned(8);
      const [lo, hi] = SPECIAL_U64[int(SPECIAL_U64.length)]!;
      dv.setUint32(o, lo, true);
      dv.setUint32(o + 4, hi, true);
      steps.push(`u64 ${hex(o)}=${hex(hi)}_${lo.toString(16).padStart(8, '0')}`);
    } else if (op === 6 && b.length > 0) {
      const n = r() < 0.5 ? offset(1) : int(b.length);
      b = b.slice(0, n);
      steps.push(`truncate ${hex(n)}`);
    } else if (op === 7 && b.length >= 16) {
      // duplicate a table entry: copy 8..256 bytes from one hot offset over another (or append them)
      const len = Math.min(b.length, [8, 12, 16, 24, 32, 40, 64, 256][int(8)]!);
      const from = offset(len);
      if (r() < 0.7) {
        const to = offset(len);
        b.copyWithin(to, from, from + len);
        steps.push(`copy ${hex(from)}+${len}->${hex(to)}`);
      } else {
        const at = offset(0);
        const out = new Uint8Array(b.length + len);
        out.set(b.subarray(0, at));
        out.set(b.subarray(from, from + len), at);
        out.set(b.subarray(at), at + len);
        b = out;
        steps.push(`insert ${hex(from)}+${len}@${hex(at)}`);
      }
    } else if (op === 8 && b.length > 1) {
      const at = offset(1);
      const len = 1 + int(Math.min(64, b.length - at));
      b = cut(b, at, len);
      steps.push(`delete ${hex(at)}+${len}`);
    } else if (b.length > 0) {
      // text-ish: a random ASCII byte, or one of the characters that matter to JSON/YAML/PEM
      const o = offset(1);
      const chars = '{}[]":,&*!|>-\n 0-\\=/';
      b[o] = r() < 0.5 ? chars.charCodeAt(int(chars.length)) : 0x20 + int(0x5f);
      steps.push(`char ${hex(o)}`);
    }
  }
  return { bytes: b, description: `seed ${si}: ${steps.join(', ')}` };
}

/** `b` without [at, at+len). */
function cut(b: Uint8Array, at: number, len: number): Uint8Array {
  const out = new Uint8Array(b.length - len);
  out.set(b.subarray(0, at));
  out.set(b.subarray(at + len), at);
  return out;
}
