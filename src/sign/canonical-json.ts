// Spec: RFC 8785 JSON Canonicalization Scheme (JCS), for the values this project emits.
/**
 * Canonical JSON (the RFC 8785 JCS rules for the values we emit): object members sorted by their
 * UTF-16 code units, no insignificant whitespace, ECMAScript number and string serialization.
 * The same document always gives the same bytes, so its digest is stable.
 */
import { InputError } from '../errors.js';

/**
 * The canonical JSON text of `v` (null, booleans, finite numbers, strings, arrays and plain objects).
 * @throws {InputError} on a value JSON cannot carry exactly (NaN, ±Infinity, undefined, a bigint, a function).
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InputError(`canonical JSON: ${v} is not representable`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new InputError(`canonical JSON: cannot serialize a ${typeof v}`);
}
