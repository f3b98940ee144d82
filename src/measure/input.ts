/**
 * A file a measurement report takes: the name to report (usually the path the caller read it from) and
 * its bytes. Reports hash the bytes and never open the name.
 */
import { toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

/** A QEMU direct kernel boot: -kernel, -initrd, -append. */
export interface DirectBootFiles {
  kernel?: NamedBytes;
  initrd?: NamedBytes;
  cmdline?: string;
}

/** `{path, size, digests: {sha256}}`: how reports describe an input file. */
export function describeInput(f: NamedBytes): { path: string; size: number; digests: { sha256: string } } {
  return { path: f.name, size: f.bytes.length, digests: { sha256: sha256Hex(f.bytes) } };
}

/** Lowercase hex SHA-256 of `b` (never throws). */
export function sha256Hex(b: Uint8Array): string {
  return toHex(digest('sha256', b));
}

/** Parameters a measurement took from a default rather than from the caller, as used (they change the result: callers show them). */
export type AppliedDefaults = Record<string, string | number>;

/** The entries of `used` whose parameter the caller left undefined in `given`. */
export function appliedDefaults(given: Record<string, unknown>, used: AppliedDefaults): AppliedDefaults {
  return Object.fromEntries(Object.entries(used).filter(([k]) => given[k] === undefined));
}
