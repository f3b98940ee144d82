/**
 * `cvm-measure/verify`: evidence verification — SEV-SNP reports, TDX quotes, TPM event logs, Azure HCL reports — against
 * pinned vendor roots, a policy and signed reference values, with the diagnosis of a mismatch.
 * WebCrypto only: runs in Node and in browsers. (Reading files, keys and signed manifests is the CLI's.)
 */
export { CvmError, FormatError, InputError, UsageError, VerificationError } from '../errors.js';
export { detectEvidence, EVIDENCE_TYPES, verifyEvidence, type EvidenceType, type VerifyEvidenceOptions, type VerifyPolicy } from '../verify/evidence.js';
export { AMD_ARK_SHA256, verifySnpReport, type SnpPolicy, type SnpVerifyOptions } from '../verify/snp.js';
export { diagnoseMrtd, INTEL_SGX_ROOT_CA_SHA256, verifyTdxQuote, type TdxPolicy, type TdxVerifyOptions } from '../verify/tdx.js';
export { verifyHclReport } from '../verify/hcl.js';
export { parsePcrValues, verifyTpmEventLog, type QuotedPcrs, type TpmVerifyOptions } from '../verify/tpm.js';
export { diagnoseSnp, SEV_FEATURE_BITS, type SnpDiagnosis, type SnpKnobs } from '../verify/diagnose-snp.js';
export type { Check, ChainCert, VerifyEvidenceResult } from '../verify/result.js';
export { eventLogReport, type EventLogReport, type EventLogReportOptions, type ReplayedEvent } from '../verify/replay.js';
