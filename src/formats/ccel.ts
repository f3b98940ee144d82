/**
 * ACPI CCEL table (ACPI 6.5 section 5.2.34 "Confidential Computing Event Log Table"): where a TDX
 * guest's CC event log lives (LASA) and how large its area is (LAML).
 */
import { FormatError } from '../errors.js';

/** CC type byte of the CCEL table. */
export const CC_TYPES: Record<number, string> = { 0: 'reserved', 1: 'SEV', 2: 'TDX' };

export interface CcelTable {
  revision: number;
  oemId: string;
  ccType: number;
  ccTypeName: string;
  ccSubtype: number;
  /** Log Area Minimum Length: size of the log area in bytes. */
  laml: number;
  /** Log Area Start Address (guest physical). */
  lasa: string;
}

const WHAT = 'CCEL table';

/**
 * ACPI 6.5 Table 5.177: 36-byte ACPI header, CC Type u8, CC Subtype u8, Reserved u16, LAML u64, LASA u64.
 * @throws FormatError when the table is short, not a CCEL table, fails its checksum or its log area is out of range.
 */
export function parseCcelTable(buf: Uint8Array): CcelTable {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const latin1 = (a: number, b: number) => String.fromCharCode(...buf.subarray(a, b));
  if (buf.length < 56) throw new FormatError(WHAT, `${buf.length} bytes is too short (a CCEL table is 56 bytes)`);
  const sig = latin1(0, 4);
  if (sig !== 'CCEL') throw new FormatError(WHAT, `signature is ${JSON.stringify(sig)}, expected "CCEL"`);
  const length = v.getUint32(4, true);
  if (length < 56 || length > buf.length) throw new FormatError(WHAT, `header length ${length} does not fit the ${buf.length}-byte input`);
  let sum = 0;
  for (let i = 0; i < length; i++) sum = (sum + buf[i]!) & 0xff;
  if (sum !== 0) throw new FormatError(WHAT, `checksum mismatch (bytes sum to 0x${sum.toString(16)}, expected 0)`);
  const ccType = buf[36]!;
  const laml = v.getBigUint64(40, true);
  if (laml > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(WHAT, `LAML 0x${laml.toString(16)} is too large`);
  return {
    revision: buf[8]!,
    oemId: latin1(10, 16).trimEnd(),
    ccType,
    ccTypeName: CC_TYPES[ccType] ?? `unknown (${ccType})`,
    ccSubtype: buf[37]!,
    laml: Number(laml),
    lasa: `0x${v.getBigUint64(48, true).toString(16)}`,
  };
}
