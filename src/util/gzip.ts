/** gzip for Node callers of the browser-ready parsers (formats/cpio.ts reads decompressed bytes only). */
import { gunzipSync } from 'node:zlib';
import { FormatError } from '../errors.js';

export function isGzip(b: Uint8Array): boolean {
  return b[0] === 0x1f && b[1] === 0x8b;
}

/** `b` decompressed when it starts with the gzip magic (at most 1 GiB out), else `b` itself; `what` names it in errors. */
export function gunzipIfGzip(b: Uint8Array, what: string): Uint8Array {
  if (!isGzip(b)) return b;
  try {
    return gunzipSync(b, { maxOutputLength: 1 << 30 });
  } catch (e) {
    throw new FormatError(what, `gzip: ${(e as Error).message}`);
  }
}
