/**
 * What a verification says (schemas/verify-result.schema.json): every check with what was expected
 * and what the evidence holds, the signature and chain, the evidence's values, and the reference
 * entry that matched. `ok` is true only when every check passed.
 */
import type { Certificate } from '../formats/x509.js';
import { toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';
import { fingerprint } from './x509.js';

export interface Check {
  name: string;
  ok: boolean;
  expected?: string;
  actual?: string;
}

export interface ChainCert {
  role: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  sha256: string;
}

export interface VerifyEvidenceResult {
  ok: boolean;
  type: 'snp-report' | 'tdx-quote' | 'tpm-eventlog' | 'hcl-report';
  version: number;
  /** Absent for a TPM event log: it is authenticated by the PCR values it replays to (from a quote checked elsewhere). */
  signature?: { ok: boolean; signer: string };
  chain?: { ok: boolean; product?: string; root?: string; certs: ChainCert[] };
  values: Record<string, unknown>;
  checks: Check[];
  /** The reference entry whose values the evidence matched (with --reference). */
  match?: { platform: string; parameters: Record<string, string | number | boolean>; vcpus?: number; origin?: 'stated'; source?: string };
  /** Why the evidence matched no reference entry (SNP: the knobs that reproduce it). */
  diagnosis?: { found: Record<string, string | number> | null; differences: string[]; searched: string };
}

/** Appends a check and returns its outcome. */
export function check(checks: Check[], name: string, ok: boolean, expected?: string, actual?: string): boolean {
  checks.push({ name, ok, ...(expected === undefined ? {} : { expected }), ...(actual === undefined ? {} : { actual }) });
  return ok;
}

export const isoTime = (t: number) => new Date(t * 1000).toISOString();

/** The origin marks of a matched reference entry (stated values name their source; predictions carry none). */
export function statedMark(e: { origin?: 'stated'; source?: string }): { origin?: 'stated'; source?: string } {
  return e.origin ? { origin: e.origin, ...(e.source ? { source: e.source } : {}) } : {};
}

/** Records the chain's certificates (root first) and checks each one's validity window at `at`. */
export function chainCerts(checks: Check[], chain: readonly (readonly [string, Certificate | undefined])[], at: number): ChainCert[] {
  const certs: ChainCert[] = [];
  for (const [role, c] of chain) {
    if (!c) continue;
    certs.push({ role, subject: c.subject.text, notBefore: isoTime(c.notBefore), notAfter: isoTime(c.notAfter), sha256: fingerprint(c) });
    check(
      checks,
      `${role.toUpperCase()} is valid at ${isoTime(at)}`,
      c.notBefore <= at && at <= c.notAfter,
      `${isoTime(c.notBefore)} .. ${isoTime(c.notAfter)}`,
      isoTime(at),
    );
  }
  return certs;
}

/**
 * The reference entries built from `firmware` (the release's, matched by the sha256 each entry signed
 * for its firmware input), or the diagnosis saying the firmware given is not the release's.
 */
export function releaseEntries<T extends { inputs: Record<string, Record<string, string>> }>(
  entries: readonly T[],
  firmware: Uint8Array,
): T[] | NonNullable<VerifyEvidenceResult['diagnosis']> {
  const sha = toHex(digest('sha256', firmware));
  const hits = entries.filter((e) => e.inputs.firmware?.sha256 === sha);
  return hits.length > 0 ? hits : { found: null, differences: [], searched: `nothing: the firmware given (sha256 ${sha.slice(0, 16)}…) is not the release's` };
}
