/**
 * Azure's HCL attestation report (the vTPM NV index 0x01400001 of an Azure confidential VM), as
 * published in Microsoft Learn, "Confidential VM Guest Attestation Design Detail", § Attestation
 * Report Format (tables Attestation Report, Header, Runtime Data): a 32-byte header, the hardware
 * report in a 1184-byte area (an SNP ATTESTATION_REPORT, or a 1024-byte TDX TDREPORT at its start),
 * then the runtime data — a 20-byte header and the runtime claims (JSON) whose hash is the hardware
 * report's REPORT_DATA. The NV index is longer than the report: bytes after the claims are ignored.
 */
import { FormatError } from '../errors.js';
import type { DigestAlg } from '../util/hash.js';
import { latin1, toHex, u32le } from '../util/bytes.js';
import type { TdReportBody } from './tdx-quote.js';

const WHAT = 'Azure HCL report';
/** Header.Signature: "HCLA" read as a little-endian u32. */
export const HCL_SIGNATURE = 0x414c4348;
const HEADER_SIZE = 32;
/** The hardware-report area: the larger of the SNP report (1184) and the TDREPORT (1024). */
const PAYLOAD_AREA = 1184;
const RUNTIME_OFFSET = HEADER_SIZE + PAYLOAD_AREA;
const RUNTIME_HEADER = 20;
/** Runtime Data.Report Type. */
const REPORT_TYPES: Record<number, 'snp' | 'tdx'> = { 2: 'snp', 4: 'tdx' };
const PAYLOAD_SIZE = { snp: 1184, tdx: 1024 } as const;
/** Runtime Data.Hash Type. */
const HASH_TYPES: Record<number, DigestAlg> = { 1: 'sha256', 2: 'sha384', 3: 'sha512' };

export interface HclReport {
  /** Header.Version (1 and 2 are seen). */
  version: number;
  reportType: 'snp' | 'tdx';
  /** The hardware report: 1184 bytes (SNP) or 1024 (TDREPORT). */
  payload: Uint8Array;
  hashType: DigestAlg;
  /** The runtime claims exactly as hashed into REPORT_DATA. */
  runtimeData: Uint8Array;
  /** The runtime claims parsed (keys, vm-configuration, user-data). */
  runtimeClaims: Record<string, unknown>;
}

/** Does `b` start with the HCL header signature? */
export const isHclReport = (b: Uint8Array): boolean => b.length >= 4 && latin1(b.subarray(0, 4)) === 'HCLA';

/** @throws FormatError naming the first field out of bounds or with an unknown value. */
export function parseHclReport(b: Uint8Array): HclReport {
  if (b.length < RUNTIME_OFFSET + RUNTIME_HEADER)
    throw new FormatError(WHAT, `${b.length} bytes is too short: header, report area and runtime-data header end at ${RUNTIME_OFFSET + RUNTIME_HEADER}`);
  if (u32le(b, 0) !== HCL_SIGNATURE) throw new FormatError(WHAT, `signature ${JSON.stringify(latin1(b.subarray(0, 4)))} is not "HCLA"`);
  const version = u32le(b, 4);
  if (version !== 1 && version !== 2) throw new FormatError(WHAT, `header version ${version} is not 1 or 2`);
  const requestType = u32le(b, 12);
  if (requestType !== 2) throw new FormatError(WHAT, `request type ${requestType} is not 2 (attestation report)`);
  // Runtime Data: Data Size, Version, Report Type, Hash Type, Claim Size, then the claims
  const dataSize = u32le(b, RUNTIME_OFFSET);
  const runtimeVersion = u32le(b, RUNTIME_OFFSET + 4);
  const reportType = REPORT_TYPES[u32le(b, RUNTIME_OFFSET + 8)];
  const hashType = HASH_TYPES[u32le(b, RUNTIME_OFFSET + 12)];
  const claimSize = u32le(b, RUNTIME_OFFSET + 16);
  if (runtimeVersion !== 1) throw new FormatError(WHAT, `runtime data version ${runtimeVersion} is not 1`);
  if (!reportType) throw new FormatError(WHAT, `report type ${u32le(b, RUNTIME_OFFSET + 8)} is not 2 (SEV-SNP) or 4 (TDX)`);
  if (!hashType) throw new FormatError(WHAT, `hash type ${u32le(b, RUNTIME_OFFSET + 12)} is not 1, 2 or 3 (SHA-256, SHA-384, SHA-512)`);
  if (dataSize !== RUNTIME_HEADER + claimSize) throw new FormatError(WHAT, `runtime data size ${dataSize} is not 20 + claim size ${claimSize}`);
  const end = RUNTIME_OFFSET + dataSize;
  if (end > b.length)
    throw new FormatError(WHAT, `runtime claims (${claimSize} bytes at ${RUNTIME_OFFSET + RUNTIME_HEADER}) run past the ${b.length}-byte report`);
  // Header.Report Size: the hardware report's size as documented; reports in the field hold the size up to the claims' end
  const reportSize = u32le(b, 8);
  if (reportSize !== PAYLOAD_SIZE[reportType] && reportSize !== end)
    throw new FormatError(
      WHAT,
      `report size ${reportSize} is neither the ${reportType.toUpperCase()} report's ${PAYLOAD_SIZE[reportType]} nor the ${end} bytes up to the claims' end`,
    );
  const runtimeData = b.subarray(RUNTIME_OFFSET + RUNTIME_HEADER, end);
  let runtimeClaims: unknown;
  try {
    runtimeClaims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(runtimeData));
  } catch (e) {
    throw new FormatError(WHAT, `runtime claims are not UTF-8 JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (typeof runtimeClaims !== 'object' || runtimeClaims === null || Array.isArray(runtimeClaims))
    throw new FormatError(WHAT, 'runtime claims are not a JSON object');
  return {
    version,
    reportType,
    payload: b.subarray(HEADER_SIZE, HEADER_SIZE + PAYLOAD_SIZE[reportType]),
    hashType,
    runtimeData,
    runtimeClaims: runtimeClaims as Record<string, unknown>,
  };
}

/** The fields of a TDX TDREPORT_STRUCT a verifier reads (Intel TDX Module ABI Specification, TDREPORT_STRUCT: REPORTMACSTRUCT, TEE_TCB_INFO, TDINFO_STRUCT). */
export type TdReport = Pick<TdReportBody, 'reportData' | 'tdAttributes' | 'xfam' | 'mrTd' | 'mrConfigId' | 'mrOwner' | 'mrOwnerConfig' | 'rtmr'>;

/** A 1024-byte TDREPORT: REPORTTYPE.TYPE must be 0x81 (TDX). @throws FormatError */
export function parseTdReport(b: Uint8Array): TdReport {
  if (b.length !== 1024) throw new FormatError('TDREPORT', `expected 1024 bytes, got ${b.length}`);
  if (b[0] !== 0x81) throw new FormatError('TDREPORT', `REPORTTYPE.TYPE 0x${b[0]!.toString(16)} is not 0x81 (TDX)`);
  const f = (off: number, len: number) => toHex(b.subarray(off, off + len));
  // REPORTMACSTRUCT.REPORTDATA at 128; TDINFO_STRUCT at 512: ATTRIBUTES, XFAM, MRTD, MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR[4]
  return {
    reportData: f(128, 64),
    tdAttributes: f(512, 8),
    xfam: f(520, 8),
    mrTd: f(528, 48),
    mrConfigId: f(576, 48),
    mrOwner: f(624, 48),
    mrOwnerConfig: f(672, 48),
    rtmr: [f(720, 48), f(768, 48), f(816, 48), f(864, 48)],
  };
}
