/**
 * Parsers for integer and list values given as text (command-line flags, recipe fields). Each throws
 * `Err` (InputError by default; the CLI passes UsageError) with a message naming the field.
 */
import { InputError } from '../errors.js';

type ErrorClass = new (message: string) => Error;

/** Integer in decimal or 0x-hex. */
export function parseInteger(what: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER, Err: ErrorClass = InputError): number {
  const v = value.trim();
  const n = /^0x[0-9a-f]+$/i.test(v) ? parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? parseInt(v, 10) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Err(`${what}: expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  return n;
}

/** Same as parseInteger but for 64-bit values (guest features, policies). */
export function parseBigInt(what: string, value: string, Err: ErrorClass = InputError): bigint {
  const v = value.trim();
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(v)) throw new Err(`${what}: expected an integer, got ${JSON.stringify(value)}`);
  const n = BigInt(v);
  if (n >= 1n << 64n) throw new Err(`${what}: ${value} does not fit in 64 bits`);
  return n;
}

/** "1", "1,2,4", "1-64", "1-8,16,32" → sorted unique list. */
export function parseCountList(what: string, value: string, max = 4096, Err: ErrorClass = InputError): number[] {
  const out = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Err(`${what}: bad list element ${JSON.stringify(part)} (expected N or N-M)`);
    const lo = parseInteger(what, m[1]!, 1, max, Err);
    const hi = m[2] === undefined ? lo : parseInteger(what, m[2], 1, max, Err);
    if (hi < lo) throw new Err(`${what}: empty range ${part.trim()}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}
