/**
 * TDX quotes (Intel TDX DCAP Quote Generation Library and Quote Verification Library API, appendix
 * "Quote Format"): v4 (header + TD report body 1.0) and v5 (header + typed body: TD report 1.0 or 1.5).
 * Parsed as far as the TD report body; signature data is left to verifiers.
 */
import { FormatError } from '../errors.js';
import { toHex } from '../util/bytes.js';

export const TEE_TYPE_TDX = 0x81;
const HEADER_SIZE = 48;
/** TD report body 1.0 (TD10_REPORT_BODY, 584 bytes); 1.5 adds TEE_TCB_SVN2 and MRSERVICETD (648 bytes). */
const BODY10_SIZE = 584;
const BODY15_SIZE = 648;

export interface TdReportBody {
  teeTcbSvn: string;
  mrSeam: string;
  mrSignerSeam: string;
  seamAttributes: string;
  tdAttributes: string;
  xfam: string;
  mrTd: string;
  mrConfigId: string;
  mrOwner: string;
  mrOwnerConfig: string;
  rtmr: [string, string, string, string];
  reportData: string;
  /** TD report 1.5 only. */
  teeTcbSvn2?: string;
  mrServiceTd?: string;
}

export interface TdxQuote {
  version: 4 | 5;
  attestationKeyType: number;
  teeType: number;
  qeVendorId: string;
  /** 5 only: 2 = TD report 1.0, 3 = TD report 1.5. */
  bodyType?: number;
  body: TdReportBody;
  /** Size of the signature data that follows the body. */
  signatureDataLength: number;
}

const WHAT = 'TDX quote';

/** Quote format, Table "TD Quote Body": field offsets within the body. */
function parseBody(b: Uint8Array, o: number, v15: boolean): TdReportBody {
  const f = (off: number, len: number) => toHex(b.subarray(o + off, o + off + len));
  const body: TdReportBody = {
    teeTcbSvn: f(0, 16),
    mrSeam: f(16, 48),
    mrSignerSeam: f(64, 48),
    seamAttributes: f(112, 8),
    tdAttributes: f(120, 8),
    xfam: f(128, 8),
    mrTd: f(136, 48),
    mrConfigId: f(184, 48),
    mrOwner: f(232, 48),
    mrOwnerConfig: f(280, 48),
    rtmr: [f(328, 48), f(376, 48), f(424, 48), f(472, 48)],
    reportData: f(520, 64),
  };
  if (v15) {
    body.teeTcbSvn2 = f(584, 16);
    body.mrServiceTd = f(600, 48);
  }
  return body;
}

/**
 * Parses a TDX quote v4 or v5 (Intel TDX DCAP Quote Generation Library and Quote Verification Library
 * API, Appendix A): header, TD report body (TD 1.0 or 1.5), signature data with the QE report and its
 * certification data. Bytes after the quote (padded files) are ignored: the lengths decide.
 * @throws FormatError for an unknown version, body type or TEE type, or a length that points outside the input.
 */
export function parseTdxQuote(q: Uint8Array): TdxQuote {
  const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
  if (q.length < HEADER_SIZE) throw new FormatError(WHAT, `${q.length} bytes is too short for the 48-byte quote header`);
  // Quote format, Table "Quote Header": version u16, att. key type u16, TEE type u32, reserved 4, QE vendor ID 16, user data 20.
  const version = v.getUint16(0, true);
  const teeType = v.getUint32(4, true);
  if (version !== 4 && version !== 5) throw new FormatError(WHAT, `version ${version} is not supported (4 or 5)`);
  if (teeType !== TEE_TYPE_TDX)
    throw new FormatError(WHAT, `TEE type 0x${teeType.toString(16)} is not TDX (0x81)${teeType === 0 ? '; this is an SGX quote' : ''}`);
  let off = HEADER_SIZE;
  let size = BODY10_SIZE;
  let bodyType: number | undefined;
  if (version === 5) {
    // Quote v5: body descriptor type u16, size u32.
    if (q.length < off + 6) throw new FormatError(WHAT, `truncated: ${q.length} bytes, the v5 body descriptor ends at ${off + 6}`);
    bodyType = v.getUint16(off, true);
    size = v.getUint32(off + 2, true);
    off += 6;
    const expected = bodyType === 2 ? BODY10_SIZE : bodyType === 3 ? BODY15_SIZE : undefined;
    if (expected === undefined) throw new FormatError(WHAT, `v5 body type ${bodyType} is not a TD report (2 = TDX 1.0, 3 = TDX 1.5)`);
    if (size !== expected) throw new FormatError(WHAT, `v5 body type ${bodyType} has size ${size}, expected ${expected}`);
  }
  if (q.length < off + size + 4) throw new FormatError(WHAT, `truncated: ${q.length} bytes, the TD report body and signature length end at ${off + size + 4}`);
  const signatureDataLength = v.getUint32(off + size, true);
  if (off + size + 4 + signatureDataLength > q.length) {
    throw new FormatError(WHAT, `signature data length ${signatureDataLength} runs past the end of the ${q.length}-byte quote`);
  }
  return {
    version,
    attestationKeyType: v.getUint16(2, true),
    teeType,
    qeVendorId: toHex(q.subarray(12, 28)),
    ...(bodyType !== undefined ? { bodyType } : {}),
    body: parseBody(q, off, size === BODY15_SIZE),
    signatureDataLength,
  };
}
