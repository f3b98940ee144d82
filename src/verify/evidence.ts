/**
 * One entry for every kind of evidence: the type is detected from the bytes (or given), then the
 * matching verifier runs. Browser-capable (WebCrypto); loading files, keys and policies is
 * ./load.ts's job.
 */
import { UsageError } from '../errors.js';
import { isHclReport } from '../formats/hcl-report.js';
import { SNP_REPORT_SIZE } from '../formats/snp-report.js';
import type { Certificate } from '../formats/x509.js';
import type { ReferenceValues } from '../manifest/model.js';
import type { VerifyEvidenceResult } from './result.js';
import { type SnpPolicy, verifySnpReport } from './snp.js';
import { type TdxPolicy, verifyTdxQuote } from './tdx.js';
import type { PcrPrediction } from './diagnose-tpm.js';
import { verifyHclReport } from './hcl.js';
import { type QuotedPcrs, verifyTpmEventLog } from './tpm.js';

export const EVIDENCE_TYPES = ['snp-report', 'tdx-quote', 'tpm-eventlog', 'hcl-report'] as const;
export type EvidenceType = (typeof EVIDENCE_TYPES)[number];

export interface VerifyPolicy {
  snp?: SnpPolicy;
  tdx?: TdxPolicy;
}

export interface VerifyEvidenceOptions {
  type?: EvidenceType;
  /** SNP: ARK, ASK/ASVK and VCEK/VLEK certificates (TDX quotes carry their PCK chain). */
  certs?: readonly Certificate[];
  /** TPM: the PCR values the log must replay to. */
  pcrs?: QuotedPcrs;
  /** Seconds since the epoch (default now). */
  at?: number;
  policy?: VerifyPolicy;
  reference?: ReferenceValues;
  /** The release's firmware, to diagnose a MEASUREMENT / MRTD mismatch. */
  firmware?: Uint8Array;
  /** TPM: the release's `measure pcr --json` predictions, to name the first differing event on a PCR mismatch. */
  predictions?: readonly PcrPrediction[];
  /** TDX: the CCEL event log, replayed against the quoted RTMRs. */
  ccel?: Uint8Array;
}

/** The evidence type from its first bytes: Azure's HCL header ("HCLA"), a TDX quote header (version 4/5, TEE type 0x81), an SNP report (1184 bytes, version 2–5, SIGNATURE_ALGO 1), else a TCG event log. */
export function detectEvidence(b: Uint8Array): EvidenceType {
  if (isHclReport(b)) return 'hcl-report';
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 8 && [4, 5].includes(v.getUint16(0, true)) && v.getUint32(4, true) === 0x81) return 'tdx-quote';
  if (b.length === SNP_REPORT_SIZE && v.getUint32(0, true) >= 2 && v.getUint32(0, true) <= 5 && v.getUint32(0x34, true) === 1) return 'snp-report';
  return 'tpm-eventlog';
}

/**
 * Verifies evidence; the result's `ok` is true only when every check holds.
 * @throws FormatError for malformed evidence; UsageError when a TPM log comes without PCR values.
 */
export async function verifyEvidence(bytes: Uint8Array, o: VerifyEvidenceOptions = {}): Promise<VerifyEvidenceResult> {
  const type = o.type ?? detectEvidence(bytes);
  const common = { ...(o.at === undefined ? {} : { at: o.at }), ...(o.reference ? { reference: o.reference } : {}) };
  if (type === 'snp-report' || type === 'hcl-report') {
    const snp = { certs: o.certs ?? [], ...common, ...(o.policy?.snp ? { policy: o.policy.snp } : {}), ...(o.firmware ? { firmware: o.firmware } : {}) };
    return type === 'snp-report' ? verifySnpReport(bytes, snp) : verifyHclReport(bytes, snp);
  }
  if (type === 'tdx-quote')
    return verifyTdxQuote(bytes, {
      ...common,
      ...(o.policy?.tdx ? { policy: o.policy.tdx } : {}),
      ...(o.firmware ? { firmware: o.firmware } : {}),
      ...(o.ccel ? { ccel: o.ccel } : {}),
    });
  if (!o.pcrs) throw new UsageError('a TPM event log is verified against the PCR values it must replay to: give --pcrs');
  return verifyTpmEventLog(bytes, {
    pcrs: o.pcrs,
    ...(o.reference ? { reference: o.reference } : {}),
    ...(o.predictions ? { predictions: o.predictions } : {}),
  });
}
