/** Library entry: `import { snpLaunchDigest } from 'cvm-measure'`. Pure measurement functions and format parsers. */
export * from './errors.js';
export {
  parseOvmf, parseFooterTable, parseSevMetadata, findFooterEntry, describeOvmf, FOOTER_GUID_NAMES, SEV_SECTION_TYPES,
  OVMF_TABLE_FOOTER_GUID, SEV_ES_RESET_BLOCK_GUID, SEV_HASH_TABLE_RV_GUID, OVMF_SEV_METADATA_GUID, SEV_SECRET_GUID,
  SEV_SNP_BOOT_BLOCK_GUID, SVSM_INFO_GUID, TDX_METADATA_GUID,
  type OvmfInfo, type FooterTable, type FooterEntry, type SevMetadata, type SevMetadataSection, type SevSectionType,
} from './formats/ovmf.js';
export {
  snpLaunchDigest, snpLaunchDigests, snpFirmwareSeed, SEV_MODES,
  type SevMode, type LaunchParams, type LaunchResult, type MeasuredSection, type SvsmInput,
} from './measure/snp/launch.js';
export { LaunchDigest, PageType, pageDigest } from './measure/snp/gctx.js';
export { resetVmsa, svsmVmsa, BSP_EIP } from './measure/snp/vmsa.js';
export { VMMS, DEFAULT_QUIRKS, resolveQuirks, vmmProfile, svsmProfile, vmsaGpa, type Vmm, type SnpQuirks, type VmmProfile } from './measure/snp/vmm.js';
export { VCPU_TYPES, cpuSignature, resolveVcpu, type VcpuSpec, type ResolvedVcpu } from './measure/snp/vcpu-types.js';
export { sevHashes, sevHashTable, sevHashPage, type SevHashes, type DirectBoot } from './measure/snp/sev-hashes.js';
export { idBlock, createIdBlock, snpPublicKey, snpSign, snpKeyDigest, type IdBlockParams, type IdBlockResult } from './measure/snp/id-block.js';
export { snpMeasurement, snpSeedMeasurement, type SnpMeasurementInputs, type SnpMeasurementParams, type SnpMeasurementJson, type SnpSeedJson, type SnpFirmwareJson } from './measure/snp/report.js';
export { describeInput, sha256Hex, type NamedBytes, type DirectBootFiles } from './measure/input.js';
// TDX: TDVF metadata, MRTD, RTMRs over the boot-event model, td-shim, quotes; TCG2 event logs and CCEL.
export { parseTdvfMetadata, TDVF_SECTION_TYPES, TD_SHIM_METADATA_GUID, type TdvfMetadata, type TdvfSection, type TdvfSectionType } from './formats/tdvf.js';
export { computeMrtd, tdxMrtd, sectionPages, PAGE_ORDERS, type PageOrder } from './measure/tdx/mrtd.js';
export { tdxDirectBootRtmrs, rtmrsFromBootEvents, qemuPatchesSetupHeader, RTMR0_DEPENDS_ON, type TdxDirectBoot, type RtmrEvent } from './measure/tdx/rtmr.js';
export { tdShimPayloadHash, tdShimParamHash, teeInfoHash, TD_SHIM_KERNEL_SIZE, TD_SHIM_PARAM_SIZE, type TeeInfoManifest } from './measure/tdx/td-shim.js';
export {
  tdxMeasurement, tdShimMeasurement,
  type TdxMeasurementInputs, type TdxMeasurementParams, type TdxMeasurementJson, type TdShimMeasurementInputs, type TdShimMeasurementParams, type TdShimMeasurementJson,
} from './measure/tdx/report.js';
export { parseTdxQuote, type TdxQuote, type TdReportBody } from './formats/tdx-quote.js';
export { parseCcelTable, type CcelTable } from './formats/ccel.js';
export { parseEventLog, replayEventLog, decodeEventData, type EventLog, type TcgEvent } from './formats/tcg-eventlog.js';
export { componentOf, groupByComponent, type Component } from './formats/eventlog-components.js';
// Signed reference-value manifests: CBOR/COSE, keys and signers, CoRIM, in-toto/DSSE, RVPS.
export { encodeCbor, decodeCbor, diagnostic, Tagged, type CborValue, type CborMap, type DecodeOptions } from './formats/cbor.js';
export { signSign1, parseSign1, verifySign1, sigStructure, HEADER as COSE_HEADER, type Sign1, type VerifiedSign1 } from './sign/cose.js';
export { generateKey, keyId, parsePrivateKey, parsePublicKey, keyAlg, KEY_ALGS, ALGS as KEY_ALG_INFO, type KeyAlg, type GeneratedKey } from './sign/keys.js';
export { localSigner, commandSigner, type Signer } from './sign/signer.js';
export { rawToDer, derToRaw, verifySignature } from './sign/ecdsa.js';
export { signDeterministic } from './sign/rfc6979.js';
export { canonicalJson } from './sign/canonical-json.js';
export type { Measurement, MeasurementKind, Origin } from './measure/measurement.js';
export { importMeasurements } from './manifest/import.js';
export { referenceValuesFrom, canonicalReferenceValues, REFERENCE_VALUES_SCHEMA, MEASUREMENTS_SCHEMA, SNP_SIGNED, TDX_SIGNED, PCR_SIGNED, type MeasurementsDocument, type ReferenceValues, type SnpValues, type TdxValues, type PcrValues, type Artifact } from './manifest/model.js';
export { corimFor, signCorim, readCorim, type CorimSummary, type CorimReferenceValue } from './manifest/corim.js';
export { pae, signEnvelope, verifyEnvelope, parseEnvelope, INTOTO_PAYLOAD_TYPE, type Envelope } from './sign/dsse.js';
export { referenceValuesStatement, checkStatement, STATEMENT_V1, SLSA_PROVENANCE_V1, REFERENCE_VALUES_PREDICATE, type Statement } from './manifest/intoto.js';
export { rvpsValues, rvpsSampleMessage, rvpsCorimMessage, type RvpsMessage } from './manifest/rvps.js';
export { createManifest, MANIFEST_FORMATS, type CreateManifestOptions, type CreatedManifest, type ManifestFormat, type ManifestFile } from './manifest/create.js';
export { verifyManifest, verifyCorim, verifyDsse, type VerifyOptions, type VerifyResult } from './manifest/verify.js';
// vTPM PCRs: PE/Authenticode, UKI, cpio, GPT, UEFI variable store; the shared boot-event model and register maps.
export { parsePe, authenticode, authenticodeRanges, sectionData, findSection, peChecksum, type PeImage, type PeSection } from './formats/pe.js';
export { parseUki, buildUki, UKI_SECTION_ORDER, type Uki, type UkiBuildInputs, type UkiSectionName } from './formats/uki.js';
export { writeCpio, readCpio, type CpioEntry, type CpioEntryType, type CpioMember, type CpioWriteOptions } from './formats/cpio.js';
export { parseGpt, uefiGptData, type Gpt, type GptPartition } from './formats/gpt.js';
export { parseVarStore, secureBootVariables, EFI_GLOBAL_VARIABLE, EFI_IMAGE_SECURITY_DATABASE_GUID, type EfiVariable, type SecureBootVariables } from './formats/efi-varstore.js';
// TCG: hash algorithms, EV_* types, register maps (TPM PCRs; CC MR index → RTMR) and replay: one home.
export {
  TPM_ALGS, REPLAY_ALGS, tpmAlg, digestSize, hash, EVENT_TYPES, EV_NO_ACTION, eventTypeName, typeName,
  TPM_PCR_MAP, CC_MR_MAP, CC_RTMR_MAP, CC_MR_NAMES, LOG_MAPS, ccMrToRtmr, pcrToCcMr, registerKey, registerName,
  replay, extend, extendFromZero, zeroRegisters, startupLocalityPcr0,
  type TpmAlgName, type HashAlg, type EventType, type RegisterMap, type MappedEvent, type LogRegisters, type RegisterValues, type ReplayEvent,
} from './tcg/index.js';
export {
  bootEvents, BOOT_SHAPES, HASH_ALGS, secureBootEnabled, directLoadOptions, measuredSections, qemuPatchedKernel, uefiVariableData, bzImageVersion, linuxStubMeasures,
  type BootShape, type BootInputs, type BootParams, type MeasuredEvent, type FirmwareParams, type DirectBootInputs, type UkiBootInputs, type QemuDirectBoot,
} from './measure/boot/index.js';
export { pcrBanks, PREDICTED_PCRS, NOT_PREDICTED, type PcrBanks } from './measure/tpm/pcr.js';
export { pcrMeasurement, type PcrMeasurementInputs, type PcrMeasurementParams, type PcrMeasurementJson } from './measure/tpm/report.js';
export { diffEventLog, type EventlogDiff, type Divergence, type ExpectedEvent } from './measure/tpm/eventlog-diff.js';
