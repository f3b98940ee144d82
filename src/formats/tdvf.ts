/**
 * TDVF metadata (Intel TDX Virtual Firmware Design Guide, section 11 "TDVF Metadata"): the table of
 * sections a TDX VMM copies into the TD and measures into MRTD. OVMF points at it from its footer GUID
 * table; td-shim images carry the same descriptor behind a fixed pointer at end-0x20.
 */
import { FormatError } from '../errors.js';
import { bytesEqual, checkRange, guidToBytes, latin1, u32le, u64le } from '../util/bytes.js';
import { findFooterEntry, OVMF_SEV_METADATA_GUID, TDX_METADATA_GUID } from './ovmf.js';

/** td-shim: GUID stored right before the descriptor (td-shim spec "TDX metadata"). */
export const TD_SHIM_METADATA_GUID = 'e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae';
/** td-shim: the u32 file offset of the descriptor (right after the metadata GUID) sits this many bytes before the end of the image. */
const TD_SHIM_METADATA_POINTER_FROM_END = 0x20;

export const TDVF_SIGNATURE = 0x46564454; // "TDVF" little-endian
export const PAGE_SIZE = 0x1000;

/** TDVF Design Guide Table 11-4 (types 0-6); td-shim adds TD_INFO (7) and TD_PARAMS (8). */
export const TDVF_SECTION_TYPES = ['BFV', 'CFV', 'TD_HOB', 'TempMem', 'PermMem', 'Payload', 'PayloadParam', 'TD_INFO', 'TD_PARAMS'] as const;
export type TdvfSectionType = (typeof TDVF_SECTION_TYPES)[number];

/** TDVF Design Guide Table 11-3: section attributes. */
export const TDVF_ATTR_MR_EXTEND = 0x1;
export const TDVF_ATTR_PAGE_AUG = 0x2;

/** TDVF Design Guide Table 11-2: TDVF_SECTION (32 bytes). */
export interface TdvfSection {
  index: number;
  type: TdvfSectionType;
  dataOffset: number;
  rawDataSize: number;
  memoryAddress: number;
  memoryDataSize: number;
  attributes: number;
  /** MR.EXTEND: the section's bytes are measured (TDH.MR.EXTEND per 256-byte chunk). */
  mrExtend: boolean;
  /** PAGE.AUG: pages are accepted later by the guest, not added (and not measured) at build time. */
  pageAug: boolean;
}

export interface TdvfMetadata {
  /** Where the descriptor pointer came from. */
  locator: 'ovmf-footer' | 'td-shim';
  /** File offset of the TDVF descriptor. */
  descriptorOffset: number;
  version: number;
  sections: TdvfSection[];
}

const WHAT = 'TDVF metadata';

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** The descriptor's file offset, from the OVMF footer table or the td-shim pointer; null when neither exists. */
function locateDescriptor(image: Uint8Array): { offset: number; locator: TdvfMetadata['locator'] } | null {
  const entry = findFooterEntry(image, TDX_METADATA_GUID);
  if (entry) {
    if (entry.length < 4) throw new FormatError(WHAT, `footer entry ${TDX_METADATA_GUID} is ${entry.length} bytes, expected at least 4`);
    const fromEnd = u32le(entry, entry.length - 4);
    if (fromEnd > image.length || fromEnd < 16) {
      throw new FormatError(WHAT, `descriptor offset-from-end ${hex(fromEnd)} lies outside the ${image.length}-byte image`);
    }
    return { offset: image.length - fromEnd, locator: 'ovmf-footer' };
  }
  if (image.length >= TD_SHIM_METADATA_POINTER_FROM_END + 4) {
    const descriptor = u32le(image, image.length - TD_SHIM_METADATA_POINTER_FROM_END);
    if (descriptor >= 16 && descriptor + 16 <= image.length && bytesEqual(image.subarray(descriptor - 16, descriptor), guidToBytes(TD_SHIM_METADATA_GUID))) {
      return { offset: descriptor, locator: 'td-shim' };
    }
  }
  return null;
}

/**
 * Parses the TDVF descriptor of an OVMF/TDVF or td-shim image. Rejects (FormatError, one line): images
 * without TDX metadata (naming SEV metadata when that is present instead), bad signature/version,
 * unknown section types, misaligned sections, sections whose raw data lies past the end of the file
 * (e.g. a split OVMF_CODE.fd) and sections whose pages overlap.
 * @throws FormatError as listed above.
 */
export function parseTdvfMetadata(image: Uint8Array): TdvfMetadata {
  const loc = locateDescriptor(image);
  if (!loc) {
    const sev = findFooterEntry(image, OVMF_SEV_METADATA_GUID) !== null;
    throw new FormatError(
      WHAT,
      `no TDX metadata (no OVMF footer entry ${TDX_METADATA_GUID} and no td-shim metadata pointer)` +
        (sev ? `; the image has SEV metadata (${OVMF_SEV_METADATA_GUID}) instead: it is an SEV/SNP firmware, not a TDX one` : ''),
    );
  }
  const d = loc.offset;
  // TDVF Design Guide Table 11-1: TDVF_DESCRIPTOR (Signature, Length, Version, NumberOfSectionEntry).
  checkRange(image, d, 16, WHAT);
  const signature = u32le(image, d);
  if (signature !== TDVF_SIGNATURE) {
    throw new FormatError(WHAT, `descriptor at ${hex(d)} has signature ${JSON.stringify(latin1(image.subarray(d, d + 4)))}, expected "TDVF"`);
  }
  const length = u32le(image, d + 4);
  const version = u32le(image, d + 8);
  const count = u32le(image, d + 12);
  if (version !== 1) throw new FormatError(WHAT, `descriptor at ${hex(d)} has version ${version}, only version 1 is defined`);
  if (length < 16 + 32 * count) throw new FormatError(WHAT, `descriptor length ${length} is too small for ${count} sections (needs ${16 + 32 * count})`);
  checkRange(image, d + 16, 32 * count, `${WHAT} section table`);

  const sections: TdvfSection[] = [];
  for (let i = 0; i < count; i++) {
    const o = d + 16 + 32 * i;
    // TDVF Design Guide Table 11-2: DataOffset u32, RawDataSize u32, MemoryAddress u64, MemoryDataSize u64, Type u32, Attributes u32.
    const typeCode = u32le(image, o + 24);
    const type = TDVF_SECTION_TYPES[typeCode];
    if (type === undefined)
      throw new FormatError(WHAT, `section ${i} has unknown type ${typeCode} (known: ${TDVF_SECTION_TYPES.map((t, k) => `${k}=${t}`).join(', ')})`);
    const memoryAddress = Number(u64le(image, o + 8));
    const memoryDataSize = Number(u64le(image, o + 16));
    const attributes = u32le(image, o + 28);
    const s: TdvfSection = {
      index: i,
      type,
      dataOffset: u32le(image, o),
      rawDataSize: u32le(image, o + 4),
      memoryAddress,
      memoryDataSize,
      attributes,
      mrExtend: (attributes & TDVF_ATTR_MR_EXTEND) !== 0,
      pageAug: (attributes & TDVF_ATTR_PAGE_AUG) !== 0,
    };
    const name = `section ${i} (${type} ${hex(memoryAddress)}+${hex(memoryDataSize)})`;
    if (!Number.isSafeInteger(memoryAddress) || !Number.isSafeInteger(memoryAddress + memoryDataSize)) throw new FormatError(WHAT, `${name} lies beyond 2^53`);
    if (attributes & ~(TDVF_ATTR_MR_EXTEND | TDVF_ATTR_PAGE_AUG)) throw new FormatError(WHAT, `${name} has unknown attribute bits ${hex(attributes)}`);
    if (memoryAddress % PAGE_SIZE !== 0 || memoryDataSize % PAGE_SIZE !== 0) throw new FormatError(WHAT, `${name} is not 4 KiB aligned`);
    if (s.rawDataSize > memoryDataSize && memoryDataSize !== 0)
      throw new FormatError(WHAT, `${name} has raw size ${hex(s.rawDataSize)} larger than its memory size`);
    if (s.dataOffset + s.rawDataSize > image.length) {
      throw new FormatError(
        WHAT,
        `${name} raw data ${hex(s.dataOffset)}+${hex(s.rawDataSize)} lies past the end of the ${hex(image.length)}-byte file (a split OVMF_CODE.fd? use the combined OVMF.fd)`,
      );
    }
    sections.push(s);
  }
  checkOverlaps(sections);
  checkWork(sections, image.length);
  return { locator: loc.locator, descriptorOffset: d, version, sections };
}

/**
 * Work bound, checked before any page is replayed: MR.EXTEND measures the image's own bytes, so the
 * extended memory of all sections may not exceed the file (rounded up to a page); build-time PAGE.ADDs
 * (every section not PAGE.AUG) are bounded by MAX_ADDED_BYTES. Real TDVF and td-shim images add a few
 * MiB to a few tens of MiB (td-shim's 32 MiB payload region); a descriptor claiming terabytes is refused.
 */
export const MAX_ADDED_BYTES = 256 * 2 ** 20;

function checkWork(sections: TdvfSection[], fileSize: number): void {
  const extended = sections.reduce((n, s) => n + (s.mrExtend ? s.memoryDataSize : 0), 0);
  const fileBound = Math.ceil(fileSize / PAGE_SIZE) * PAGE_SIZE;
  if (extended > fileBound) {
    throw new FormatError(WHAT, `sections extend ${hex(extended)} bytes into MRTD, more than the ${hex(fileSize)}-byte image holds`);
  }
  const added = sections.reduce((n, s) => n + (s.pageAug ? 0 : s.memoryDataSize), 0);
  if (added > MAX_ADDED_BYTES) {
    throw new FormatError(WHAT, `sections add ${hex(added)} bytes of memory at build time, more than the ${hex(MAX_ADDED_BYTES)} bound`);
  }
}

/** Two sections may not add the same guest page. */
function checkOverlaps(sections: TdvfSection[]): void {
  const sorted = sections.filter((s) => s.memoryDataSize > 0).sort((a, b) => a.memoryAddress - b.memoryAddress);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.memoryAddress < a.memoryAddress + a.memoryDataSize) {
      throw new FormatError(WHAT, `sections ${a.index} (${a.type}) and ${b.index} (${b.type}) overlap at page ${hex(b.memoryAddress)}`);
    }
  }
}
