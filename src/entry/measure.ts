/**
 * `cvm-measure/measure`: pure measurement functions — bytes and parameters in, digests and reports out;
 * no file, process or network I/O. SEV-SNP launch digests and ID blocks, TDX MRTD/RTMRs and td-shim,
 * vTPM PCRs over the boot-event model, and the `Measurement` type every report satisfies.
 * Loads no npm package but @noble/hashes.
 */
export { CvmError, InputError, FormatError, UsageError } from '../errors.js';
// SEV-SNP
export {
  snpLaunchDigest,
  snpLaunchDigests,
  snpFirmwareSeed,
  SEV_MODES,
  type SevMode,
  type LaunchParams,
  type LaunchResult,
  type MeasuredSection,
  type SvsmInput,
} from '../measure/snp/launch.js';
export { VMMS, DEFAULT_QUIRKS, type Vmm, type SnpQuirks, type VmmProfile } from '../measure/snp/vmm.js';
export { VCPU_TYPES, resolveVcpu, type VcpuSpec, type ResolvedVcpu } from '../measure/snp/vcpu-types.js';
export { sevHashes, sevHashTable, type SevHashes, type DirectBoot } from '../measure/snp/sev-hashes.js';
export { firmwareReport, type FirmwareReport } from '../measure/firmware-report.js';
export { idBlock, createIdBlock, snpPublicKey, snpSign, snpKeyDigest, type IdBlockParams, type IdBlockResult } from '../measure/snp/id-block.js';
export {
  snpMeasurement,
  snpSeedMeasurement,
  type SnpMeasurementInputs,
  type SnpMeasurementParams,
  type SnpMeasurementJson,
  type SnpSeedJson,
  type SnpFirmwareJson,
} from '../measure/snp/report.js';
// TDX
export { tdxMrtd, computeMrtd, PAGE_ORDERS, type PageOrder } from '../measure/tdx/mrtd.js';
export { tdxDirectBootRtmrs, rtmrsFromBootEvents, type TdxDirectBoot, type RtmrEvent } from '../measure/tdx/rtmr.js';
export { tdxRtmr0, RTMR0_STATUS, TDVF_EVENT_LAYOUTS, type QemuFwCfg, type TdvfEventLayout, type Rtmr0Model } from '../measure/tdx/rtmr0.js';
export { tdHob, tdRamEntries, type TdRamEntry } from '../measure/tdx/td-hob.js';
export { tdShimPayloadHash, tdShimParamHash, teeInfoHash, TD_SHIM_KERNEL_SIZE, TD_SHIM_PARAM_SIZE, type TeeInfoManifest } from '../measure/tdx/td-shim.js';
export {
  tdxMeasurement,
  tdShimMeasurement,
  type TdxMeasurementInputs,
  type TdxMeasurementParams,
  type TdxMeasurementJson,
  type Rtmr0Json,
  type TdShimMeasurementInputs,
  type TdShimMeasurementParams,
  type TdShimMeasurementJson,
} from '../measure/tdx/report.js';
// vTPM: boot events, PCR banks, event-log comparison
export {
  bootEvents,
  BOOT_SHAPES,
  HASH_ALGS,
  secureBootEnabled,
  type BootShape,
  type BootInputs,
  type BootParams,
  type MeasuredEvent,
  type FirmwareParams,
  type DirectBootInputs,
  type UkiBootInputs,
  type QemuDirectBoot,
} from '../measure/boot/index.js';
export { pcrBanks, PREDICTED_PCRS, NOT_PREDICTED, type PcrBanks } from '../measure/tpm/pcr.js';
export { pcrMeasurement, type PcrMeasurementInputs, type PcrMeasurementParams, type PcrMeasurementJson } from '../measure/tpm/report.js';
export { diffEventLog, type EventlogDiff, type Divergence, type ExpectedEvent } from '../measure/tpm/eventlog-diff.js';
// inputs and the report union
export { sha256Hex, type NamedBytes, type DirectBootFiles } from '../measure/input.js';
export { MEASUREMENT_KINDS, type Measurement, type MeasurementKind, type Origin } from '../measure/measurement.js';
