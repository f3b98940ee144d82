/** Parsers for command-line values; each throws a UsageError (exit 2) naming the flag. */
import { UsageError } from '../errors.js';

/** Integer in decimal or 0x-hex. */
export function parseInteger(flag: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = value.trim();
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? parseInt(v, 10) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Same as parseInteger but for 64-bit values (guest features, policies). */
export function parseBigInt(flag: string, value: string): bigint {
  const v = value.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new UsageError(`${flag}: expected an integer, got ${JSON.stringify(value)}`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw new UsageError(`${flag}: ${value} does not fit in 64 bits`);
  return n;
}

/** "1", "1,2,4", "1-64", "1-8,16,32" → sorted unique list. */
export function parseCountList(flag: string, value: string, max = 4096): number[] {
  const out = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UsageError(`${flag}: bad list element ${JSON.stringify(part)} (expected N or N-M)`);
    const lo = parseInteger(flag, m[1]!, 1, max);
    const hi = m[2] === undefined ? lo : parseInteger(flag, m[2], 1, max);
    if (hi < lo) throw new UsageError(`${flag}: empty range ${part.trim()}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** One value out of a fixed set, case-insensitive; returns the canonical spelling. */
export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  const hit = choices.find((c) => c.toLowerCase() === value.toLowerCase());
  if (!hit) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not one of ${choices.join(', ')}`);
  return hit;
}
