/**
 * Unified Kernel Images (UAPI Group "Unified Kernel Image (UKI)" specification): a systemd-stub PE with
 * .linux/.initrd/.cmdline/.osrel/... sections. Reading, and a deterministic writer that lays sections
 * out the way systemd's ukify does (appended after the stub's sections, FileAlignment/SectionAlignment
 * rounded, .linux last) with a fixed TimeDateStamp and no wall-clock or host input.
 */
import { FormatError, InputError } from '../errors.js';
import { latin1, latin1Bytes, u16le, u32le, view } from '../util/bytes.js';
import { findSection, parsePe, sectionData, type PeImage } from './pe.js';

export interface Uki {
  pe: PeImage;
  /** Section name → loaded content (VirtualSize bytes), in section-table order. */
  sections: Map<string, Uint8Array>;
  /** "252.39-1~deb12u2" from the stub's .sdmagic "#### LoaderInfo: systemd-stub V ####", when present. */
  stubVersion: string | undefined;
}

/**
 * Parses a unified kernel image: the PE (parsePe), its UKI sections in ukify's order and the systemd-stub
 * version from .sdmagic.
 * @throws FormatError when the PE does not parse (see parsePe).
 * @throws InputError when it has no .linux section (not a UKI).
 */
export function parseUki(bytes: Uint8Array): Uki {
  const pe = parsePe(bytes);
  const sections = new Map<string, Uint8Array>();
  for (const s of pe.sections) sections.set(s.name, sectionData(pe, s));
  if (!sections.has('.linux')) throw new InputError('UKI: no .linux section (not a unified kernel image)');
  const magic = sections.get('.sdmagic');
  const m = magic ? /LoaderInfo: systemd-stub (\S+)/.exec(latin1(magic)) : null;
  return { pe, sections, stubVersion: m?.[1] };
}

/** Sections a UKI may carry, in the order ukify adds them (.linux last, leaving room for decompression). */
export const UKI_SECTION_ORDER = ['.osrel', '.cmdline', '.dtb', '.uname', '.splash', '.pcrpkey', '.initrd', '.linux'] as const;
export type UkiSectionName = (typeof UKI_SECTION_ORDER)[number];

export interface UkiBuildInputs {
  stub: Uint8Array;
  sections: Partial<Record<UkiSectionName, Uint8Array>>;
  /** COFF TimeDateStamp of the result (SOURCE_DATE_EPOCH); default 0. */
  timeDateStamp?: number;
}

/** PE Format "Section Flags". */
const IMAGE_SCN_CNT_CODE = 0x20;
const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40;
const IMAGE_SCN_MEM_READ = 0x40000000;
/** PE Format "Characteristics". */
const IMAGE_FILE_LOCAL_SYMS_STRIPPED = 0x8;

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Builds a UKI from a systemd-stub and section contents; same inputs → same bytes.
 * @throws FormatError for a stub that is signed, has no sections, bad alignments, a section the UKI would add, no room for the headers, or a value that does not fit its field.
 * @throws InputError when the sections lack .linux.
 */
export function buildUki(inputs: UkiBuildInputs): Uint8Array {
  const stub = parsePe(inputs.stub);
  const what = 'UKI stub';
  if (stub.certTable.size > 0) throw new FormatError(what, 'the stub is signed; sign the UKI after building it instead');
  // the new sections are laid out after the stub's last one, which must exist
  if (stub.sections.length === 0) throw new FormatError(what, 'has no sections (not a systemd-stub image)');
  const fa = stub.fileAlignment;
  const sa = stub.sectionAlignment;
  if (fa === 0 || (fa & (fa - 1)) !== 0 || sa === 0 || (sa & (sa - 1)) !== 0)
    throw new FormatError(what, `FileAlignment ${fa} / SectionAlignment ${sa} not powers of two`);
  for (const s of stub.sections) {
    if (s.pointerToRawData % fa !== 0 || s.sizeOfRawData % fa !== 0) throw new FormatError(what, `section ${s.name} raw data is not FileAlignment-aligned`);
  }
  const names = UKI_SECTION_ORDER.filter((n) => inputs.sections[n] !== undefined);
  for (const n of names) if (findSection(stub, n)) throw new FormatError(what, `already has a ${n} section`);
  if (!names.includes('.linux')) throw new InputError('UKI: a .linux section (the kernel) is required');

  const src = inputs.stub;
  // PE Format "COFF File Header": PointerToSymbolTable (+8) / NumberOfSymbols (+12). Image files should have
  // none; like ukify, drop a symbol + string table that ends the file.
  let end = src.length;
  let stripped = false;
  const symPtr = u32le(src, stub.coffOffset + 8);
  if (symPtr !== 0) {
    const symEnd = symPtr + 18 * u32le(src, stub.coffOffset + 12);
    const strSize = symEnd + 4 <= src.length ? u32le(src, symEnd) : 0;
    if (symEnd + strSize === src.length) {
      end = symPtr;
      stripped = true;
    }
  }
  const lastRawEnd = Math.max(stub.sizeOfHeaders, ...stub.sections.map((s) => s.pointerToRawData + s.sizeOfRawData));
  if (end < lastRawEnd) end = lastRawEnd;

  // Headers: ukify rounds SizeOfHeaders up to FileAlignment; the new section headers must fit in it.
  const sizeOfHeaders = roundUp(stub.sizeOfHeaders, fa);
  const firstRaw = Math.min(...stub.sections.filter((s) => s.sizeOfRawData > 0).map((s) => s.pointerToRawData));
  if (sizeOfHeaders > firstRaw) throw new FormatError(what, `SizeOfHeaders 0x${sizeOfHeaders.toString(16)} would overlap the first section`);
  const tableEnd = stub.sectionTableOffset + 40 * (stub.sections.length + names.length);
  if (tableEnd > sizeOfHeaders)
    throw new FormatError(
      what,
      `no header room for ${names.length} more section headers (need 0x${tableEnd.toString(16)}, have 0x${sizeOfHeaders.toString(16)})`,
    );

  // Layout: each section at the next FileAlignment offset / SectionAlignment RVA after the previous one.
  let fileOff = roundUp(end, fa);
  const last = stub.sections[stub.sections.length - 1]!;
  let rva = roundUp(last.virtualAddress + last.virtualSize, sa);
  const placed = names.map((name) => {
    const data = inputs.sections[name]!;
    const p = { name, data, raw: fileOff, rawSize: roundUp(data.length, fa), rva };
    fileOff += p.rawSize;
    rva = roundUp(rva + data.length, sa);
    return p;
  });
  const out = new Uint8Array(fileOff);
  out.set(src.subarray(0, end));
  const dv = view(out);
  const setU32 = (v: number, at: number) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new FormatError('UKI', `value ${v} at 0x${at.toString(16)} does not fit a UINT32 field`);
    dv.setUint32(at, v, true);
  };
  let initData = u32le(out, stub.optionalHeaderOffset + 8);
  placed.forEach((p, i) => {
    const h = stub.sectionTableOffset + 40 * (stub.sections.length + i);
    out.fill(0, h, h + 40);
    out.set(latin1Bytes(p.name).subarray(0, 8), h);
    setU32(p.data.length, h + 8); // VirtualSize
    setU32(p.rva, h + 12); // VirtualAddress
    setU32(p.rawSize, h + 16); // SizeOfRawData
    setU32(p.raw, h + 20); // PointerToRawData
    setU32(IMAGE_SCN_MEM_READ | (p.name === '.linux' ? IMAGE_SCN_CNT_CODE : IMAGE_SCN_CNT_INITIALIZED_DATA), h + 36);
    out.set(p.data, p.raw);
    initData = (initData + p.data.length) >>> 0;
  });
  const coff = stub.coffOffset;
  const opt = stub.optionalHeaderOffset;
  dv.setUint16(coff + 2, stub.sections.length + names.length, true); // NumberOfSections
  setU32(inputs.timeDateStamp ?? 0, coff + 4); // TimeDateStamp
  if (stripped) {
    setU32(0, coff + 8); // PointerToSymbolTable
    setU32(0, coff + 12); // NumberOfSymbols
    dv.setUint16(coff + 18, u16le(out, coff + 18) | IMAGE_FILE_LOCAL_SYMS_STRIPPED, true); // Characteristics
  }
  setU32(initData, opt + 8); // SizeOfInitializedData
  setU32(rva, opt + 56); // SizeOfImage (the last RVA is already SectionAlignment-rounded)
  setU32(sizeOfHeaders, opt + 60); // SizeOfHeaders
  setU32(0, stub.checksumOffset); // CheckSum: 0, as ukify leaves it
  parsePe(out); // the result must itself be a well-formed image
  return out;
}
