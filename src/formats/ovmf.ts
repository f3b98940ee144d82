/**
 * OVMF firmware images as SEV, SEV-ES and SEV-SNP VMMs read them: the GUIDed footer table at the end
 * of the reset vector (edk2 OvmfPkg/ResetVector/Ia16/ResetVectorVtf0.asm), the entries QEMU looks up
 * in it (target/i386/sev.c) and the SEV metadata it points at (OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm).
 * Every offset is bounds-checked; malformed input is a one-line FormatError naming the GUID and offset.
 */
import { FormatError } from '../errors.js';
import { bytesEqual, checkRange, guidToBytes, guidToString, latin1, toHex, u16le, u32le } from '../util/bytes.js';

/** The footer entry itself: its GUID ends 0x20 bytes before the end of the image (ResetVectorVtf0.asm). */
export const OVMF_TABLE_FOOTER_GUID = '96b582de-1fb2-45f7-baea-a366c55a082d';
/** SEV_INFO_BLOCK_GUID (QEMU): u32 SEV-ES AP reset vector address. */
export const SEV_ES_RESET_BLOCK_GUID = '00f771de-1a7e-4fcb-890e-68c77e2fb44e';
/** SEV_HASH_TABLE_RV_GUID (QEMU): u32 GPA + u32 size of the kernel/initrd/cmdline hash table. */
export const SEV_HASH_TABLE_RV_GUID = '7255371f-3a3b-4b04-927b-1da6efa8d454';
/** OVMF_SEV_META_DATA_GUID: u32 offset from the end of the image of the SEV metadata header. */
export const OVMF_SEV_METADATA_GUID = 'dc886566-984a-4798-a75e-5585a7bf67cc';
/** SEV_SECRET_GUID (QEMU): u32 GPA + u32 size of the SEV launch-secret area. */
export const SEV_SECRET_GUID = '4c2eb361-7d9b-4cc3-8081-127c90d3d294';
/** SEV_SNP_BOOT_BLOCK_GUID (QEMU, pre-metadata SNP patches). */
export const SEV_SNP_BOOT_BLOCK_GUID = 'bd39c0c2-2f8e-4243-83e8-1b74cebcb7d9';
/** SVSM_INFO_GUID (coconut-svsm): u32 offset of the SVSM entry point inside the SVSM image. */
export const SVSM_INFO_GUID = 'a789a612-0597-4c4b-a49f-cbb1fe9d1ddd';
/** TDX metadata offset (TDVF Design Guide section 11): u32 offset from the end of the TDVF descriptor. */
export const TDX_METADATA_GUID = 'e47a6535-984a-4798-865e-4685a7bf8ec2';

/** Names printed by `inspect firmware` for the footer entries we know. */
export const FOOTER_GUID_NAMES: Readonly<Record<string, string>> = {
  [SEV_ES_RESET_BLOCK_GUID]: 'SEV_ES_RESET_BLOCK',
  [SEV_HASH_TABLE_RV_GUID]: 'SEV_HASH_TABLE_RV',
  [OVMF_SEV_METADATA_GUID]: 'OVMF_SEV_METADATA',
  [SEV_SECRET_GUID]: 'SEV_SECRET',
  [SEV_SNP_BOOT_BLOCK_GUID]: 'SEV_SNP_BOOT_BLOCK',
  [SVSM_INFO_GUID]: 'SVSM_INFO',
  [TDX_METADATA_GUID]: 'TDX_METADATA_OFFSET',
};

const FOOTER = 'OVMF footer table';
/** ResetVectorVtf0.asm: each entry is [data][u16 length][16-byte GUID]; length covers all three. */
const ENTRY_HEADER = 18;
/** The footer entry's GUID starts 0x30 bytes before the end (a 0x20-byte reset vector follows it). */
const FOOTER_GUID_FROM_END = 0x30;

export interface FooterEntry {
  guid: string;
  /** File offset of the entry's data. */
  offset: number;
  data: Uint8Array;
}

export interface FooterTable {
  /** File offset of the footer entry (its u16 length). */
  offset: number;
  /** Entries in file order. */
  entries: FooterEntry[];
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * Parses the GUIDed footer table; undefined when the image has none (too small, or no footer GUID at
 * end-0x30 — as sev-snp-measure, that is not an error by itself). Entries are walked backwards from
 * the footer; an entry whose length is too small or reaches before the table is a FormatError.
 * @throws FormatError for a footer entry that is too small or reaches before the table.
 */
export function parseFooterTable(image: Uint8Array): FooterTable | undefined {
  const buf = image;
  const guidAt = buf.length - FOOTER_GUID_FROM_END;
  if (guidAt < 2 || !bytesEqual(buf.subarray(guidAt, guidAt + 16), guidToBytes(OVMF_TABLE_FOOTER_GUID))) return undefined;
  const footerAt = guidAt - 2;
  const tableLength = u16le(buf, footerAt);
  if (tableLength < ENTRY_HEADER) {
    throw new FormatError(
      FOOTER,
      `footer ${OVMF_TABLE_FOOTER_GUID} at ${hex(footerAt)} has length ${tableLength}, less than its own ${ENTRY_HEADER}-byte header`,
    );
  }
  const start = footerAt - (tableLength - ENTRY_HEADER);
  if (start < 0) {
    throw new FormatError(
      FOOTER,
      `footer ${OVMF_TABLE_FOOTER_GUID} at ${hex(footerAt)} claims ${tableLength} bytes, reaching before the start of the ${buf.length}-byte file`,
    );
  }
  const entries: FooterEntry[] = [];
  let end = footerAt;
  while (end - start >= ENTRY_HEADER) {
    const guid = guidToString(buf, end - 16);
    const length = u16le(buf, end - ENTRY_HEADER);
    if (length < ENTRY_HEADER || end - length < start) {
      throw new FormatError(FOOTER, `entry ${guid} at ${hex(end - ENTRY_HEADER)} has length ${length}, outside the table ${hex(start)}..${hex(footerAt)}`);
    }
    entries.unshift({ guid, offset: end - length, data: buf.subarray(end - length, end - ENTRY_HEADER) });
    end -= length;
  }
  return { offset: footerAt, entries };
}

/** Generic lookup: the data of footer entry `guid`, or null (no table or no such entry). */
export function findFooterEntry(image: Uint8Array, guid: string): Uint8Array | null {
  return parseFooterTable(image)?.entries.find((e) => e.guid === guid)?.data ?? null;
}

/** Reads the leading u32 of a footer entry (all entries used here start with one). */
function entryU32(table: FooterTable | undefined, guid: string): { value: number; offset: number } | undefined {
  const e = table?.entries.find((x) => x.guid === guid);
  if (!e) return undefined;
  if (e.data.length < 4) throw new FormatError(FOOTER, `entry ${guid} at ${hex(e.offset)} has ${e.data.length} data bytes, expected at least 4`);
  return { value: u32le(e.data, 0), offset: e.offset };
}

/** OvmfSevMetadata.asm section types (OvmfPkg/Include/WorkArea.h / QEMU OvmfSevMetadataDesc). */
export const SEV_SECTION_TYPES = {
  1: 'SNP_SEC_MEM',
  2: 'SNP_SECRETS',
  3: 'CPUID',
  4: 'SVSM_CAA',
  0x10: 'SNP_KERNEL_HASHES',
} as const;
export type SevSectionType = (typeof SEV_SECTION_TYPES)[keyof typeof SEV_SECTION_TYPES];

/** OvmfSevMetadata.asm: one section descriptor (u32 GPA, u32 size, u32 type). */
export interface SevMetadataSection {
  gpa: number;
  size: number;
  type: SevSectionType;
  typeCode: number;
}

/** OvmfSevMetadata.asm: the "ASEV" header (signature, u32 size, u32 version = 1, u32 item count) and its sections. */
export interface SevMetadata {
  /** File offset of the header. */
  offset: number;
  version: number;
  sections: SevMetadataSection[];
}

const METADATA = 'OVMF SEV metadata';
/**
 * Work bound of `measure snp`: every metadata page is one SNP_LAUNCH_UPDATE to replay. The sections
 * (u32 GPA and size: below 4 GiB) of OVMF and coconut-svsm cover well under 1 MiB; together they may
 * cover at most 64 MiB, refused before any page is replayed.
 */
export const MAX_SEV_METADATA_BYTES = 64 * 2 ** 20;
const METADATA_HEADER = 16;
const SECTION_DESC = 12;

/**
 * Parses the SEV metadata the footer entry OVMF_SEV_METADATA points at; undefined when there is no such entry.
 * @throws FormatError for a bad signature, version or section type, or sections out of bounds or above the work bound.
 */
export function parseSevMetadata(image: Uint8Array, table: FooterTable | undefined): SevMetadata | undefined {
  const buf = image;
  const ptr = entryU32(table, OVMF_SEV_METADATA_GUID);
  if (!ptr) return undefined;
  const where = `entry ${OVMF_SEV_METADATA_GUID} at ${hex(ptr.offset)}`;
  const start = buf.length - ptr.value;
  if (ptr.value < METADATA_HEADER || start < 0) {
    throw new FormatError(METADATA, `${where} points ${hex(ptr.value)} bytes before the end of the ${buf.length}-byte file: outside the file`);
  }
  const signature = buf.subarray(start, start + 4);
  if (latin1(signature) !== 'ASEV') {
    throw new FormatError(METADATA, `header at ${hex(start)} (from ${where}) has signature ${JSON.stringify(latin1(signature))}, expected "ASEV"`);
  }
  const size = u32le(buf, start + 4);
  const version = u32le(buf, start + 8);
  const count = u32le(buf, start + 12);
  if (version !== 1) throw new FormatError(METADATA, `header at ${hex(start)} has version ${version}, only version 1 is defined`);
  if (size < METADATA_HEADER + SECTION_DESC * count) {
    throw new FormatError(METADATA, `header at ${hex(start)} has size ${size}, too small for ${count} sections`);
  }
  checkRange(buf, start, size, `${METADATA} at ${hex(start)}`);
  const sections: SevMetadataSection[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const o = start + METADATA_HEADER + SECTION_DESC * i;
    const gpa = u32le(buf, o);
    const sz = u32le(buf, o + 4);
    const typeCode = u32le(buf, o + 8);
    const type = SEV_SECTION_TYPES[typeCode as keyof typeof SEV_SECTION_TYPES];
    if (type === undefined) {
      throw new FormatError(
        METADATA,
        `section ${i} at ${hex(o)} has unknown type ${hex(typeCode)} (known: ${Object.entries(SEV_SECTION_TYPES)
          .map(([k, v]) => `${hex(Number(k))}=${v}`)
          .join(', ')})`,
      );
    }
    if (gpa % 0x1000 !== 0 || sz % 0x1000 !== 0) {
      throw new FormatError(METADATA, `section ${i} (${type} ${hex(gpa)}+${hex(sz)}) at ${hex(o)} is not 4 KiB aligned`);
    }
    if (gpa + sz > 2 ** 32)
      throw new FormatError(METADATA, `section ${i} (${type} ${hex(gpa)}+${hex(sz)}) at ${hex(o)} runs past the 4 GiB guest address space`);
    total += sz;
    if (total > MAX_SEV_METADATA_BYTES) {
      throw new FormatError(METADATA, `sections 0..${i} cover ${hex(total)} bytes, more than the ${hex(MAX_SEV_METADATA_BYTES)} bound`);
    }
    sections.push({ gpa, size: sz, type, typeCode });
  }
  return { offset: start, version, sections };
}

/** Everything a VMM reads from an OVMF image. */
export interface OvmfInfo {
  size: number;
  footer: FooterTable | undefined;
  sevMetadata: SevMetadata | undefined;
  /** SEV_ES_RESET_BLOCK: the AP reset vector (CS base = eip & 0xffff0000, RIP = eip & 0xffff). */
  sevEsResetEip: number | undefined;
  /** SEV_HASH_TABLE_RV: where QEMU writes the kernel/initrd/cmdline hash table (GPA 0 = unsupported). */
  sevHashTable: { gpa: number; size: number } | undefined;
  /** SVSM_INFO: the SVSM entry point offset (SVSM images only). */
  svsmEntryOffset: number | undefined;
  /** TDX_METADATA_OFFSET present (a TDX-capable build). */
  hasTdxMetadata: boolean;
}

/**
 * Everything a VMM reads from an OVMF / SVSM image's footer table: SEV metadata, SEV-ES reset EIP, SEV
 * hash table, SNP kernel-hashes page, SVSM entry, TDX metadata presence.
 * @throws FormatError when the footer table or the SEV metadata is malformed or out of bounds.
 */
export function parseOvmf(image: Uint8Array): OvmfInfo {
  const footer = parseFooterTable(image);
  const hashTable = footer?.entries.find((e) => e.guid === SEV_HASH_TABLE_RV_GUID);
  if (hashTable && hashTable.data.length < 8) {
    throw new FormatError(FOOTER, `entry ${SEV_HASH_TABLE_RV_GUID} at ${hex(hashTable.offset)} has ${hashTable.data.length} data bytes, expected 8`);
  }
  return {
    size: image.length,
    footer,
    sevMetadata: parseSevMetadata(image, footer),
    sevEsResetEip: entryU32(footer, SEV_ES_RESET_BLOCK_GUID)?.value,
    sevHashTable: hashTable ? { gpa: u32le(hashTable.data, 0), size: u32le(hashTable.data, 4) } : undefined,
    svsmEntryOffset: entryU32(footer, SVSM_INFO_GUID)?.value,
    hasTdxMetadata: footer?.entries.some((e) => e.guid === TDX_METADATA_GUID) ?? false,
  };
}

/** JSON-ready description of an OVMF image (addresses as hex strings), shared by `measure snp --json` and `inspect firmware`. */
export function describeOvmf(info: OvmfInfo) {
  const h = (n: number | undefined) => (n === undefined ? null : hex(n));
  const kernelHashes = info.sevMetadata?.sections.find((s) => s.type === 'SNP_KERNEL_HASHES');
  return {
    size: info.size,
    footerTable: info.footer
      ? {
          offset: info.footer.offset,
          entries: info.footer.entries.map((e) => ({ guid: e.guid, name: FOOTER_GUID_NAMES[e.guid] ?? null, offset: e.offset, data: toHex(e.data) })),
        }
      : null,
    sevMetadata: info.sevMetadata
      ? {
          offset: info.sevMetadata.offset,
          version: info.sevMetadata.version,
          sections: info.sevMetadata.sections.map((s) => ({ type: s.type, gpa: hex(s.gpa), size: hex(s.size) })),
        }
      : null,
    sevEsResetEip: h(info.sevEsResetEip),
    sevHashTable: info.sevHashTable ? { gpa: hex(info.sevHashTable.gpa), size: hex(info.sevHashTable.size) } : null,
    snpKernelHashes: kernelHashes ? { pageGpa: hex(kernelHashes.gpa), tableGpa: h(info.sevHashTable?.gpa) } : null,
    svsmEntryOffset: h(info.svsmEntryOffset),
    tdxMetadata: info.hasTdxMetadata,
  };
}
