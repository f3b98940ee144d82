/**
 * PE/COFF images (Microsoft "PE Format" specification) and their Authenticode image hash
 * ("Windows Authenticode Portable Executable Signature Format", section "Calculating the PE Image
 * Hash"), as UEFI LoadImage measures them into PCR4 (edk2 DxeTpm2MeasureBootLib → HashPeImage).
 * Hostile files (headers or sections past EOF, overlapping sections, absurd counts) are FormatErrors.
 */
import { FormatError } from '../errors.js';
import type { HashAlg } from '../tcg/index.js';
import { checkRange, latin1 } from '../util/bytes.js';
import { createHasher } from '../util/hash.js';

const WHAT = 'PE image';

/** PE Format: "MS-DOS Stub" — e_lfanew (offset of the PE signature) sits at 0x3c. */
const E_LFANEW = 0x3c;
/** PE Format "Section Table": 40-byte IMAGE_SECTION_HEADER; the loader limits the count to 96. */
const SECTION_HEADER_SIZE = 40;
const MAX_SECTIONS = 96;
/** PE Format "Optional Header Data Directories": entry 4 is the Certificate Table (file offset, size). */
const DIR_CERTIFICATE_TABLE = 4;
export const PE32_MAGIC = 0x10b;
export const PE32PLUS_MAGIC = 0x20b;

/** PE Format "Section Table (Section Headers)". */
export interface PeSection {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  characteristics: number;
  /** File offset of this IMAGE_SECTION_HEADER. */
  headerOffset: number;
}

export interface PeImage {
  bytes: Uint8Array;
  /** File offset of the COFF File Header (right after "PE\0\0"). */
  coffOffset: number;
  machine: number;
  timeDateStamp: number;
  /** File offset of the Optional Header. */
  optionalHeaderOffset: number;
  sizeOfOptionalHeader: number;
  magic: typeof PE32_MAGIC | typeof PE32PLUS_MAGIC;
  /** File offset of the 4-byte CheckSum field (excluded from the Authenticode hash). */
  checksumOffset: number;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  numberOfRvaAndSizes: number;
  /** File offset of the Data Directory array. */
  dataDirectoryOffset: number;
  /** File offset of the Certificate Table directory entry (excluded from the hash); undefined if absent. */
  certDirectoryOffset: number | undefined;
  /** The attribute certificate table (file offset and size; size 0 when unsigned). */
  certTable: { offset: number; size: number };
  sectionTableOffset: number;
  sections: PeSection[];
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Parses the DOS stub, COFF header, optional header and section table, checking every bound.
 * @throws FormatError naming the header or section that is malformed or lies outside the file.
 */
export function parsePe(bytes: Uint8Array): PeImage {
  const dv = view(bytes);
  checkRange(bytes, 0, 0x40, `${WHAT} DOS header`);
  if (bytes[0] !== 0x4d || bytes[1] !== 0x5a) throw new FormatError(WHAT, 'no MZ signature at offset 0');
  const peOffset = dv.getUint32(E_LFANEW, true);
  checkRange(bytes, peOffset, 24, `${WHAT} COFF header (e_lfanew ${hex(peOffset)})`);
  if (dv.getUint32(peOffset, true) !== 0x00004550) throw new FormatError(WHAT, `no "PE\\0\\0" signature at e_lfanew ${hex(peOffset)}`);
  // PE Format "COFF File Header (Object and Image)": 20 bytes.
  const coffOffset = peOffset + 4;
  const machine = dv.getUint16(coffOffset, true);
  const numberOfSections = dv.getUint16(coffOffset + 2, true);
  const timeDateStamp = dv.getUint32(coffOffset + 4, true);
  const sizeOfOptionalHeader = dv.getUint16(coffOffset + 16, true);
  if (numberOfSections > MAX_SECTIONS) throw new FormatError(WHAT, `NumberOfSections ${numberOfSections} exceeds the loader limit of ${MAX_SECTIONS}`);
  const opt = coffOffset + 20;
  checkRange(bytes, opt, sizeOfOptionalHeader, `${WHAT} optional header`);
  if (sizeOfOptionalHeader < 2) throw new FormatError(WHAT, `SizeOfOptionalHeader ${sizeOfOptionalHeader} is too small`);
  const magic = dv.getUint16(opt, true);
  if (magic !== PE32_MAGIC && magic !== PE32PLUS_MAGIC) throw new FormatError(WHAT, `unknown optional header magic ${hex(magic)}`);
  // PE Format "Optional Header Windows-Specific Fields": data directories start at 96 (PE32) / 112 (PE32+).
  const dataDirectoryOffset = opt + (magic === PE32PLUS_MAGIC ? 112 : 96);
  if (dataDirectoryOffset > opt + sizeOfOptionalHeader)
    throw new FormatError(WHAT, `SizeOfOptionalHeader ${sizeOfOptionalHeader} is too small for its magic ${hex(magic)}`);
  const numberOfRvaAndSizes = dv.getUint32(dataDirectoryOffset - 4, true);
  // whole 8-byte entries only: an optional header ending mid-entry must not expose a half entry
  const dirCount = Math.min(numberOfRvaAndSizes, Math.floor((opt + sizeOfOptionalHeader - dataDirectoryOffset) / 8));
  if (numberOfRvaAndSizes > 16) throw new FormatError(WHAT, `NumberOfRvaAndSizes ${numberOfRvaAndSizes} exceeds 16`);
  const sizeOfHeaders = dv.getUint32(opt + 60, true);
  const certDirectoryOffset = dirCount > DIR_CERTIFICATE_TABLE ? dataDirectoryOffset + 8 * DIR_CERTIFICATE_TABLE : undefined;
  const certTable =
    certDirectoryOffset === undefined
      ? { offset: 0, size: 0 }
      : { offset: dv.getUint32(certDirectoryOffset, true), size: dv.getUint32(certDirectoryOffset + 4, true) };

  const sectionTableOffset = opt + sizeOfOptionalHeader;
  checkRange(bytes, sectionTableOffset, numberOfSections * SECTION_HEADER_SIZE, `${WHAT} section table (${numberOfSections} sections)`);
  if (sizeOfHeaders > bytes.length) throw new FormatError(WHAT, `SizeOfHeaders ${hex(sizeOfHeaders)} lies past the end of the ${bytes.length}-byte file`);
  if (sectionTableOffset + numberOfSections * SECTION_HEADER_SIZE > sizeOfHeaders) {
    throw new FormatError(
      WHAT,
      `section table ends at ${hex(sectionTableOffset + numberOfSections * SECTION_HEADER_SIZE)}, past SizeOfHeaders ${hex(sizeOfHeaders)}`,
    );
  }
  const sections: PeSection[] = [];
  for (let i = 0; i < numberOfSections; i++) {
    const o = sectionTableOffset + i * SECTION_HEADER_SIZE;
    const rawName = bytes.subarray(o, o + 8);
    const nul = rawName.indexOf(0);
    const s: PeSection = {
      name: latin1(rawName.subarray(0, nul < 0 ? 8 : nul)),
      virtualSize: dv.getUint32(o + 8, true),
      virtualAddress: dv.getUint32(o + 12, true),
      sizeOfRawData: dv.getUint32(o + 16, true),
      pointerToRawData: dv.getUint32(o + 20, true),
      characteristics: dv.getUint32(o + 36, true),
      headerOffset: o,
    };
    if (s.sizeOfRawData > 0) checkRange(bytes, s.pointerToRawData, s.sizeOfRawData, `${WHAT} section ${i} ${JSON.stringify(s.name)} raw data`);
    sections.push(s);
  }
  const byFile = sections.filter((s) => s.sizeOfRawData > 0).sort((a, b) => a.pointerToRawData - b.pointerToRawData);
  for (let i = 1; i < byFile.length; i++) {
    const prev = byFile[i - 1]!;
    const cur = byFile[i]!;
    if (prev.pointerToRawData + prev.sizeOfRawData > cur.pointerToRawData) {
      throw new FormatError(WHAT, `sections ${JSON.stringify(prev.name)} and ${JSON.stringify(cur.name)} overlap in the file at ${hex(cur.pointerToRawData)}`);
    }
  }
  if (byFile.length > 0 && byFile[0]!.pointerToRawData < sizeOfHeaders) {
    throw new FormatError(
      WHAT,
      `section ${JSON.stringify(byFile[0]!.name)} raw data at ${hex(byFile[0]!.pointerToRawData)} overlaps the headers (SizeOfHeaders ${hex(sizeOfHeaders)})`,
    );
  }
  if (certTable.size > 0) checkRange(bytes, certTable.offset, certTable.size, `${WHAT} certificate table`);
  return {
    bytes,
    coffOffset,
    machine,
    timeDateStamp,
    optionalHeaderOffset: opt,
    sizeOfOptionalHeader,
    magic,
    checksumOffset: opt + 64,
    sectionAlignment: dv.getUint32(opt + 32, true),
    fileAlignment: dv.getUint32(opt + 36, true),
    sizeOfImage: dv.getUint32(opt + 56, true),
    sizeOfHeaders,
    numberOfRvaAndSizes,
    dataDirectoryOffset,
    certDirectoryOffset,
    certTable,
    sectionTableOffset,
    sections,
  };
}

/**
 * The byte ranges Authenticode hashes, in order: headers minus CheckSum and the Certificate Table
 * entry, each section's raw data sorted by PointerToRawData (SizeOfRawData > 0 only), then any data
 * after the last section except the certificate table (edk2 HashPeImage, same rules).
 */
export function authenticodeRanges(pe: PeImage): [number, number][] {
  const r: [number, number][] = [];
  const ck = pe.checksumOffset;
  if (pe.certDirectoryOffset === undefined) {
    r.push([0, ck], [ck + 4, pe.sizeOfHeaders]);
  } else {
    r.push([0, ck], [ck + 4, pe.certDirectoryOffset], [pe.certDirectoryOffset + 8, pe.sizeOfHeaders]);
  }
  let sum = pe.sizeOfHeaders;
  for (const s of pe.sections.filter((x) => x.sizeOfRawData > 0).sort((a, b) => a.pointerToRawData - b.pointerToRawData)) {
    r.push([s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData]);
    sum += s.sizeOfRawData;
  }
  const end = pe.bytes.length - pe.certTable.size;
  if (end > sum) r.push([sum, end]);
  return r;
}

/** Authenticode image digests of a PE file (one pass per algorithm over the same ranges). */
export function authenticode(image: Uint8Array | PeImage, algs: readonly HashAlg[] = ['sha256']): Record<HashAlg, Uint8Array> {
  const pe = image instanceof Uint8Array ? parsePe(image) : image;
  const hs = algs.map((a) => createHasher(a));
  for (const [from, to] of authenticodeRanges(pe)) {
    const chunk = pe.bytes.subarray(from, to);
    for (const h of hs) h.update(chunk);
  }
  return Object.fromEntries(algs.map((a, i) => [a, hs[i]!.digest()])) as Record<HashAlg, Uint8Array>;
}

/**
 * A section's VirtualSize bytes as loaded (raw data trimmed, or zero-filled past SizeOfRawData), as
 * systemd-stub measures it. Work bound: a section loaded from this file is never larger than the file
 * (VirtualSize ≤ max(SizeOfRawData, file size)), so a header claiming gigabytes of zero fill is refused
 * before anything is allocated.
 */
export function sectionData(pe: PeImage, s: PeSection): Uint8Array {
  if (s.virtualSize > Math.max(s.sizeOfRawData, pe.bytes.length)) {
    throw new FormatError(
      WHAT,
      `section ${JSON.stringify(s.name)} VirtualSize ${hex(s.virtualSize)} is larger than the ${pe.bytes.length}-byte file it is loaded from`,
    );
  }
  const raw = pe.bytes.subarray(s.pointerToRawData, s.pointerToRawData + Math.min(s.virtualSize, s.sizeOfRawData));
  if (raw.length === s.virtualSize) return raw;
  const out = new Uint8Array(s.virtualSize);
  out.set(raw);
  return out;
}

export function findSection(pe: PeImage, name: string): PeSection | undefined {
  return pe.sections.find((s) => s.name === name);
}

/** PE Format "CheckSum": 16-bit one's-complement-style sum of the file (CheckSum field as 0) plus the file length. */
export function peChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i += 2) {
    if (i === checksumOffset || i === checksumOffset + 2) continue;
    sum += bytes[i]! | ((i + 1 < n ? bytes[i + 1]! : 0) << 8);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + n) >>> 0;
}

/** PE Format "The Attribute Certificate Table": WIN_CERT_TYPE_PKCS_SIGNED_DATA. */
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

/** One DER TLV: tag byte, content start and end (X.690 8.1; definite lengths only). */
function derTlv(b: Uint8Array, o: number, end: number): { tag: number; start: number; end: number } {
  if (o + 2 > end) throw new FormatError(WHAT, `signature DER truncated at 0x${o.toString(16)}`);
  const tag = b[o]!;
  let len = b[o + 1]!;
  let start = o + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > end) throw new FormatError(WHAT, `signature DER has an unsupported length at 0x${o.toString(16)}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  if (start + len > end) throw new FormatError(WHAT, `signature DER element at 0x${o.toString(16)} runs past its container`);
  return { tag, start, end: start + len };
}

/**
 * The X.509 certificates (DER) embedded in the image's Authenticode signatures: each WIN_CERTIFICATE of
 * type PKCS_SIGNED_DATA holds a CMS ContentInfo whose SignedData carries `certificates [0] IMPLICIT`
 * (RFC 5652 section 5.1).
 */
export function signatureCertificates(pe: PeImage): Uint8Array[] {
  const b = pe.bytes;
  const dv = view(b);
  const out: Uint8Array[] = [];
  const tableEnd = pe.certTable.offset + pe.certTable.size;
  for (let o = pe.certTable.offset; pe.certTable.size > 0 && o + 8 <= tableEnd; ) {
    const length = dv.getUint32(o, true);
    const type = dv.getUint16(o + 6, true);
    if (length < 8 || o + length > tableEnd)
      throw new FormatError(WHAT, `WIN_CERTIFICATE at 0x${o.toString(16)} has length ${length} past the certificate table`);
    if (type === WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
      const end = o + length;
      const contentInfo = derTlv(b, o + 8, end);
      const oid = derTlv(b, contentInfo.start, contentInfo.end);
      const explicit = derTlv(b, oid.end, contentInfo.end);
      const signedData = derTlv(b, explicit.start, explicit.end);
      let p = signedData.start;
      for (let i = 0; i < 3; i++) p = derTlv(b, p, signedData.end).end; // version, digestAlgorithms, encapContentInfo
      const certs = p < signedData.end ? derTlv(b, p, signedData.end) : undefined;
      if (certs && certs.tag === 0xa0) {
        for (let c = certs.start; c < certs.end; ) {
          const cert = derTlv(b, c, certs.end);
          out.push(b.subarray(c, cert.end));
          c = cert.end;
        }
      }
    }
    o += Math.ceil(length / 8) * 8;
  }
  return out;
}
