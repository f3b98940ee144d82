/**
 * Azure HCL reports (src/formats/hcl-report.ts): the inner SNP report is verified as any SNP report
 * (signature, chain, policy, reference values), then the binding: REPORT_DATA must hold the hash of
 * the runtime claims (the hash type the report names, zero-padded to 64 bytes), so the claims (the
 * vTPM's attestation key, the VM configuration, user data) are as signed as the report. A TDX
 * TDREPORT inside is only MAC'd for the platform that made it: its values and binding are shown, and
 * its authenticity is a failed check (verify the TD quote made from it).
 */
import { parseHclReport, parseTdReport } from '../formats/hcl-report.js';
import { toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';
import { check, type Check, type VerifyEvidenceResult } from './result.js';
import { type SnpVerifyOptions, verifySnpReport } from './snp.js';

/** Verifies an HCL report. @throws FormatError for bytes that are not one (or whose SNP report is malformed). */
export async function verifyHclReport(bytes: Uint8Array, o: SnpVerifyOptions): Promise<VerifyEvidenceResult> {
  const h = parseHclReport(bytes);
  const hash = toHex(digest(h.hashType, h.runtimeData));
  const hcl = { version: h.version, reportType: h.reportType, hashType: h.hashType, runtimeClaims: h.runtimeClaims };
  const binding = (checks: Check[], reportData: string) =>
    check(
      checks,
      `REPORT_DATA is the ${h.hashType.replace('sha', 'SHA-')} of the runtime claims`,
      reportData === hash.padEnd(128, '0'),
      hash,
      reportData.slice(0, hash.length),
    );
  if (h.reportType === 'snp') {
    const r = await verifySnpReport(h.payload, o);
    binding(r.checks, r.values.reportData as string);
    return { ...r, ok: r.checks.every((c) => c.ok), type: 'hcl-report', version: h.version, values: { ...r.values, hcl } };
  }
  const td = parseTdReport(h.payload);
  const checks: Check[] = [];
  check(checks, 'the TDREPORT is authenticated', false, 'a TD quote made from it (a TDREPORT is MACed for its own platform only)', 'a bare TDREPORT');
  binding(checks, td.reportData);
  return { ok: false, type: 'hcl-report', version: h.version, values: { ...td, hcl }, checks };
}
