/**
 * MRTD: the SHA-384 the TDX module accumulates while the VMM builds the TD (Intel TDX Module ABI
 * spec, TDH.MEM.PAGE.ADD and TDH.MR.EXTEND "MRTD extension" 128-byte buffers), replayed from the
 * TDVF metadata. Pure: image bytes + metadata + page order → digest.
 */
import { PAGE_SIZE, parseTdvfMetadata, type TdvfMetadata, type TdvfSection } from '../../formats/tdvf.js';
import { latin1Bytes, setU64le } from '../../util/bytes.js';
import { createHasher, type Hasher } from '../../util/hash.js';

/**
 * Host-side order of the build-time SEAMCALLs.
 * - `single`: per 4 KiB page, PAGE.ADD then its 16 MR.EXTENDs (upstream KVM/QEMU >= 9, GCE, td-shim).
 * - `two-pass`: for each section, all PAGE.ADDs, then all MR.EXTENDs (QEMU 8.x TDX builds).
 */
export type PageOrder = 'single' | 'two-pass';
export const PAGE_ORDERS: readonly PageOrder[] = ['single', 'two-pass'];

/** TDH.MR.EXTEND measures 256-byte chunks. */
const MR_EXTEND_CHUNK = 0x100;
const CHUNKS_PER_PAGE = PAGE_SIZE / MR_EXTEND_CHUNK;
/** TDX Module ABI: MRTD extension buffer = ASCII op name padded to 16, GPA u64 LE at 16, zero to 128. */
const EXT_BUF = 128;

function extensionBuffer(op: 'MEM.PAGE.ADD' | 'MR.EXTEND'): Uint8Array {
  const b = new Uint8Array(EXT_BUF);
  b.set(latin1Bytes(op), 0);
  return b;
}

class MrtdBuilder {
  private readonly h: Hasher = createHasher('sha384');
  private readonly add = extensionBuffer('MEM.PAGE.ADD');
  /** One page's worth of MR.EXTEND records: 16 × (128-byte header + 256 data bytes). */
  private readonly extend = new Uint8Array(CHUNKS_PER_PAGE * (EXT_BUF + MR_EXTEND_CHUNK));

  constructor(private readonly image: Uint8Array) {
    for (let i = 0; i < CHUNKS_PER_PAGE; i++) this.extend.set(extensionBuffer('MR.EXTEND'), i * (EXT_BUF + MR_EXTEND_CHUNK));
  }

  pageAdd(gpa: number): void {
    setU64le(this.add, gpa, 16);
    this.h.update(this.add);
  }

  /** TDH.MR.EXTEND of every chunk of page `page`: the section's raw data, zero-filled up to MemoryDataSize. */
  mrExtendPage(s: TdvfSection, page: number): void {
    const gpa = s.memoryAddress + page * PAGE_SIZE;
    for (let i = 0; i < CHUNKS_PER_PAGE; i++) {
      const o = i * (EXT_BUF + MR_EXTEND_CHUNK);
      setU64le(this.extend, gpa + i * MR_EXTEND_CHUNK, o + 16);
      const rel = page * PAGE_SIZE + i * MR_EXTEND_CHUNK;
      const n = Math.max(0, Math.min(MR_EXTEND_CHUNK, s.rawDataSize - rel));
      if (n > 0) this.extend.set(this.image.subarray(s.dataOffset + rel, s.dataOffset + rel + n), o + EXT_BUF);
      if (n < MR_EXTEND_CHUNK) this.extend.fill(0, o + EXT_BUF + n, o + EXT_BUF + MR_EXTEND_CHUNK);
    }
    this.h.update(this.extend);
  }

  section(s: TdvfSection, order: PageOrder): void {
    const pages = s.memoryDataSize / PAGE_SIZE;
    const gpa = (p: number) => s.memoryAddress + p * PAGE_SIZE;
    const adds = !s.pageAug;
    if (order === 'two-pass') {
      if (adds) for (let p = 0; p < pages; p++) this.pageAdd(gpa(p));
      if (s.mrExtend) for (let p = 0; p < pages; p++) this.mrExtendPage(s, p);
    } else {
      for (let p = 0; p < pages; p++) {
        if (adds) this.pageAdd(gpa(p));
        if (s.mrExtend) this.mrExtendPage(s, p);
      }
    }
  }

  digest(): Uint8Array {
    return this.h.digest();
  }
}

/** MRTD of `image` (the file the metadata was parsed from) for the given host page order. */
export function computeMrtd(image: Uint8Array, metadata: TdvfMetadata, order: PageOrder = 'single'): Uint8Array {
  const b = new MrtdBuilder(image);
  for (const s of metadata.sections) b.section(s, order);
  return b.digest();
}

/** Pages a section contributes to MRTD: added (PAGE.ADD, unless PAGE.AUG) and extended (MR.EXTEND). */
export function sectionPages(s: TdvfSection): { added: number; extended: number } {
  const pages = s.memoryDataSize / PAGE_SIZE;
  return { added: s.pageAug ? 0 : pages, extended: s.mrExtend ? pages : 0 };
}

/** Parses the TDVF metadata of a TDVF/OVMF or td-shim image and returns its MRTD for `order`. */
export function tdxMrtd(image: Uint8Array, order: PageOrder = 'single'): { mrtd: Uint8Array; metadata: TdvfMetadata } {
  const metadata = parseTdvfMetadata(image);
  return { mrtd: computeMrtd(image, metadata, order), metadata };
}
