/**
 * PI firmware volumes, FFS files and sections (UEFI PI 1.8 vol. 3: 3.2.1 EFI_FIRMWARE_VOLUME_HEADER,
 * 3.2.2 EFI_FIRMWARE_VOLUME_EXT_HEADER, 2.2.3 EFI_FFS_FILE_HEADER/2, 2.2.4 EFI_COMMON_SECTION_HEADER/2,
 * 3.2.5.7 EFI_GUID_DEFINED_SECTION), and the memory volumes OVMF's SEC decompresses from its flash
 * (OvmfPkg/Sec/SecMain.c DecompressMemFvs: the FV_IMAGE file of FVMAIN_COMPACT holds one LZMA GUIDed
 * section whose FV_IMAGE sections are PEIFV then DXEFV). Every offset is bounds-checked.
 */
import { FormatError } from '../errors.js';
import { checkRange, guidToString, u16le, u32le, u64le } from '../util/bytes.js';
import { lzmaDecompress } from './lzma.js';

const WHAT = 'firmware volume';
/** PI vol. 3 3.2.1: "_FVH" at offset 40. */
const FV_SIGNATURE = 0x4856465f;
const FV_HEADER_MIN = 0x48;
/** PI vol. 3 2.2.3: EFI_FFS_FILE_HEADER is 24 bytes, EFI_FFS_FILE_HEADER2 (FFS_ATTRIB_LARGE_FILE) 32. */
const FFS_ATTRIB_LARGE_FILE = 0x01;
export const EFI_FV_FILETYPE_FIRMWARE_VOLUME_IMAGE = 0x0b;
export const EFI_FV_FILETYPE_FFS_PAD = 0xf0;
/** PI vol. 3 2.1.4.1 section types used here. */
export const EFI_SECTION_GUID_DEFINED = 0x02;
export const EFI_SECTION_PE32 = 0x10;
export const EFI_SECTION_USER_INTERFACE = 0x15;
export const EFI_SECTION_FIRMWARE_VOLUME_IMAGE = 0x17;
/** edk2 MdeModulePkg LzmaCustomDecompressLib: gLzmaCustomDecompressGuid. */
export const LZMA_CUSTOM_DECOMPRESS_GUID = 'ee4e5898-3914-4259-9d6e-dc7bd79403cf';
/** Largest decompressed section accepted (OVMF's memory volumes total 13.5 MiB). */
const MAX_DECOMPRESSED = 64 << 20;

export interface FfsFile {
  guid: string;
  type: number;
  /** Offset of the file header inside the volume. */
  offset: number;
  /** The file body (after the header): its sections. */
  data: Uint8Array;
  /** Offset of `data` inside the volume. */
  dataOffset: number;
}

export interface FirmwareVolume {
  /** FvLength: the whole volume, header included. */
  length: number;
  /** HeaderLength of EFI_FIRMWARE_VOLUME_HEADER (block map included). */
  headerLength: number;
  /** EFI_FIRMWARE_VOLUME_EXT_HEADER.FvName, when the volume has an extended header. */
  name: string | undefined;
  files: FfsFile[];
}

export interface Section {
  type: number;
  /** Offset of the section header inside the buffer it was parsed from. */
  offset: number;
  /** The section body after its (common or extended) header. */
  data: Uint8Array;
  /** Offset of `data` inside that buffer. */
  dataOffset: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;
const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** Whether a firmware volume header ("_FVH" signature) starts at `offset`. */
export function isFirmwareVolume(buf: Uint8Array, offset: number): boolean {
  return offset + FV_HEADER_MIN <= buf.length && u32le(buf, offset + 40) === FV_SIGNATURE;
}

/** Parses the volume at the start of `fv` (its FFS files, pad files included). */
export function parseFirmwareVolume(fv: Uint8Array): FirmwareVolume {
  checkRange(fv, 0, FV_HEADER_MIN, `${WHAT} header`);
  if (u32le(fv, 40) !== FV_SIGNATURE) throw new FormatError(WHAT, 'no "_FVH" signature at offset 40');
  const lengthBig = u64le(fv, 32);
  const headerLength = u16le(fv, 48);
  const extOffset = u16le(fv, 52);
  if (lengthBig > BigInt(fv.length) || Number(lengthBig) < headerLength || headerLength < FV_HEADER_MIN)
    throw new FormatError(WHAT, `FvLength ${lengthBig} / HeaderLength ${headerLength} do not fit the ${fv.length}-byte buffer`);
  const length = Number(lengthBig);
  let name: string | undefined;
  let o = headerLength;
  if (extOffset !== 0) {
    checkRange(fv, extOffset, 20, `${WHAT} extended header at ${hex(extOffset)}`);
    name = guidToString(fv, extOffset);
    o = extOffset + u32le(fv, extOffset + 16);
  }
  const files: FfsFile[] = [];
  for (o = align(o, 8); o + 24 <= length; o = align(o, 8)) {
    const header = fv.subarray(o, o + 24);
    if (header.every((b) => b === 0xff)) break;
    const large = (fv[o + 19]! & FFS_ATTRIB_LARGE_FILE) !== 0;
    const headerSize = large ? 32 : 24;
    checkRange(fv, o, headerSize, `FFS file header at ${hex(o)}`);
    const size = large ? Number(u64le(fv, o + 24)) : fv[o + 20]! | (fv[o + 21]! << 8) | (fv[o + 22]! << 16);
    if (size < headerSize || o + size > length)
      throw new FormatError(WHAT, `FFS file ${guidToString(fv, o)} at ${hex(o)} has size ${size}, outside the volume`);
    files.push({ guid: guidToString(fv, o), type: fv[o + 18]!, offset: o, data: fv.subarray(o + headerSize, o + size), dataOffset: o + headerSize });
    o += size;
  }
  return { length, headerLength, name, files };
}

/** The sections of a file body or of a decompressed section (4-byte aligned, PI vol. 3 2.2.4). */
export function parseSections(buf: Uint8Array): Section[] {
  const out: Section[] = [];
  for (let o = 0; o + 4 <= buf.length; o = align(o, 4)) {
    let size = buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16);
    let headerSize = 4;
    if (size === 0xffffff) {
      checkRange(buf, o, 8, `section header at ${hex(o)}`);
      size = u32le(buf, o + 4);
      headerSize = 8;
    }
    if (size < headerSize || o + size > buf.length)
      throw new FormatError('FFS section', `section at ${hex(o)} has size ${size}, outside its ${buf.length}-byte container`);
    out.push({ type: buf[o + 3]!, offset: o, data: buf.subarray(o + headerSize, o + size), dataOffset: o + headerSize });
    o += size;
  }
  return out;
}

/**
 * EFI_GUID_DEFINED_SECTION (PI vol. 3 3.2.5.7): SectionDefinitionGuid, UINT16 DataOffset, UINT16
 * Attributes; the data from DataOffset (counted from the section header) decoded. Only edk2's LZMA GUID.
 */
export function guidedSectionData(section: Section): Uint8Array {
  checkRange(section.data, 0, 20, 'GUID-defined section header');
  const guid = guidToString(section.data, 0);
  if (guid !== LZMA_CUSTOM_DECOMPRESS_GUID) throw new FormatError('FFS section', `GUID-defined section ${guid} is not LZMA (${LZMA_CUSTOM_DECOMPRESS_GUID})`);
  const headerSize = section.dataOffset - section.offset;
  const dataOffset = u16le(section.data, 16) - headerSize;
  if (dataOffset < 20 || dataOffset > section.data.length)
    throw new FormatError('FFS section', `GUID-defined section DataOffset ${dataOffset + headerSize} is outside the section`);
  return lzmaDecompress(section.data.subarray(dataOffset), MAX_DECOMPRESSED);
}

export interface OvmfMemoryVolumes {
  /** PEIFV as SEC copies it to PcdOvmfPeiMemFvBase. */
  pei: Uint8Array;
  /** DXEFV as SEC copies it to PcdOvmfDxeMemFvBase. */
  dxe: Uint8Array;
}

/**
 * The PEI and DXE volumes of an OVMF flash image (OVMF.fd or OVMF_CODE*.fd): the first firmware-volume
 * image file holding an LZMA GUID-defined section with exactly two volume-image sections.
 */
export function ovmfMemoryVolumes(flash: Uint8Array): OvmfMemoryVolumes {
  for (let at = 0; at + FV_HEADER_MIN <= flash.length; at += 0x1000) {
    if (!isFirmwareVolume(flash, at)) continue;
    const fv = parseFirmwareVolume(flash.subarray(at));
    for (const file of fv.files) {
      if (file.type !== EFI_FV_FILETYPE_FIRMWARE_VOLUME_IMAGE) continue;
      const guided = parseSections(file.data).find((s) => s.type === EFI_SECTION_GUID_DEFINED);
      if (!guided) continue;
      const images = parseSections(guidedSectionData(guided)).filter((s) => s.type === EFI_SECTION_FIRMWARE_VOLUME_IMAGE);
      if (images.length === 2) return { pei: images[0]!.data, dxe: images[1]!.data };
    }
    at += Math.max(0, align(fv.length, 0x1000) - 0x1000);
  }
  throw new FormatError(
    'OVMF image',
    'no firmware-volume file with an LZMA section holding the PEI and DXE volumes (not an OVMF flash image with FVMAIN_COMPACT)',
  );
}
