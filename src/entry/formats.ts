/**
 * `cvm-measure/formats`: parsers and writers for the formats measurements are computed over —
 * OVMF/TDVF firmware metadata, PE/Authenticode, UKI, cpio, GPT, UEFI variable stores, TCG2 event logs,
 * CCEL, TDX quotes and CBOR. Pure: bytes in, structures out.
 */
export { CvmError, FormatError, InputError } from '../errors.js';
export {
  parseOvmf,
  parseFooterTable,
  parseSevMetadata,
  findFooterEntry,
  describeOvmf,
  FOOTER_GUID_NAMES,
  SEV_SECTION_TYPES,
  OVMF_TABLE_FOOTER_GUID,
  SEV_ES_RESET_BLOCK_GUID,
  SEV_HASH_TABLE_RV_GUID,
  OVMF_SEV_METADATA_GUID,
  SEV_SECRET_GUID,
  SEV_SNP_BOOT_BLOCK_GUID,
  SVSM_INFO_GUID,
  TDX_METADATA_GUID,
  type OvmfInfo,
  type FooterTable,
  type FooterEntry,
  type SevMetadata,
  type SevMetadataSection,
  type SevSectionType,
} from '../formats/ovmf.js';
export { parseTdvfMetadata, TDVF_SECTION_TYPES, TD_SHIM_METADATA_GUID, type TdvfMetadata, type TdvfSection, type TdvfSectionType } from '../formats/tdvf.js';
export { tableLoaderAllocations, parseE820, E820_RAM, type LoaderAllocation, type E820Entry } from '../formats/qemu-fw-cfg.js';
export { parseTdxQuote, type TdxQuote, type TdReportBody } from '../formats/tdx-quote.js';
export { parseCcelTable, type CcelTable } from '../formats/ccel.js';
export { parseEventLog, replayEventLog, decodeEventData, type EventLog, type TcgEvent } from '../formats/tcg-eventlog.js';
export { componentOf, groupByComponent, type Component } from '../formats/eventlog-components.js';
export { encodeCbor, decodeCbor, diagnostic, Tagged, type CborValue, type CborMap, type DecodeOptions } from '../formats/cbor.js';
export { parsePe, authenticode, peChecksum, type PeImage, type PeSection } from '../formats/pe.js';
export { parseUki, buildUki, UKI_SECTION_ORDER, type Uki, type UkiBuildInputs, type UkiSectionName } from '../formats/uki.js';
export { writeCpio, readCpio, type CpioEntry, type CpioEntryType, type CpioMember, type CpioWriteOptions } from '../formats/cpio.js';
export { parseGpt, type Gpt, type GptPartition } from '../formats/gpt.js';
export {
  parseVarStore,
  secureBootVariables,
  EFI_GLOBAL_VARIABLE,
  EFI_IMAGE_SECURITY_DATABASE_GUID,
  type EfiVariable,
  type SecureBootVariables,
} from '../formats/efi-varstore.js';
export {
  parseSnpReport,
  decodePolicy,
  decodeTcb,
  snpProduct,
  SNP_REPORT_SIZE,
  SNP_REPORT_SIGNED_SIZE,
  type SnpReport,
  type SnpProduct,
  type TcbVersion,
} from '../formats/snp-report.js';
export { parseCertificate, readCertificates, OID, type Certificate, type Name } from '../formats/x509.js';
