/**
 * The SEV-SNP guest context's launch digest (SEV-SNP Firmware ABI spec, SNP_LAUNCH_UPDATE): every page
 * the VMM adds extends LD := SHA-384(PAGE_INFO), where PAGE_INFO carries the previous LD, the page's
 * content digest, its type and its GPA.
 */
import { InputError } from '../../errors.js';
import { view } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';

export const PAGE_SIZE = 0x1000;
export const LD_SIZE = 48;

/** SNP ABI spec, SNP_LAUNCH_UPDATE PAGE_TYPE encodings. */
export const PageType = {
  NORMAL: 0x01,
  VMSA: 0x02,
  ZERO: 0x03,
  UNMEASURED: 0x04,
  SECRETS: 0x05,
  CPUID: 0x06,
} as const;
export type PageType = (typeof PageType)[keyof typeof PageType];

const ZEROS = new Uint8Array(LD_SIZE);
const TWO_32 = 0x1_0000_0000;

/** SHA-384 of one 4 KiB page (the CONTENTS field of a NORMAL or VMSA PAGE_INFO). */
export function pageDigest(page: Uint8Array): Uint8Array {
  return digest('sha384', page);
}

/** Guest context: the running launch digest (sev-snp-measure's GCTX). */
export class LaunchDigest {
  // SNP ABI spec 8.17.2 Table 67 "Layout of the PAGE_INFO Structure" (0x70 bytes):
  // DIGEST_CUR[48] CONTENTS[48] LENGTH u16 PAGE_TYPE u8 IMI_PAGE u8 VMPL3/2/1_PERMS u8 x3 reserved u8 GPA u64.
  private readonly info = new Uint8Array(0x70);
  private readonly view = view(this.info);

  constructor(seed: Uint8Array = ZEROS) {
    if (seed.length !== LD_SIZE) throw new InputError(`a launch digest seed is ${LD_SIZE} bytes, got ${seed.length}`);
    this.info.set(seed, 0);
    this.view.setUint16(0x60, 0x70, true);
  }

  /** The current launch digest (a copy). */
  digest(): Uint8Array {
    return this.info.slice(0, LD_SIZE);
  }

  clone(): LaunchDigest {
    return new LaunchDigest(this.info.subarray(0, LD_SIZE));
  }

  /** Extends the digest with one PAGE_INFO (IMI_PAGE and the VMPL permissions are 0). */
  update(pageType: PageType, gpa: number, contents: Uint8Array = ZEROS): void {
    const info = this.info;
    info.set(contents, LD_SIZE);
    info[0x62] = pageType;
    this.view.setUint32(0x68, gpa % TWO_32, true);
    this.view.setUint32(0x6c, Math.floor(gpa / TWO_32), true);
    info.set(digest('sha384', info), 0);
  }

  /** NORMAL pages: CONTENTS = SHA-384 of each page of `data` (a whole number of pages) at consecutive GPAs. */
  updateNormalPages(gpa: number, data: Uint8Array): void {
    for (let off = 0; off < data.length; off += PAGE_SIZE) this.update(PageType.NORMAL, gpa + off, pageDigest(data.subarray(off, off + PAGE_SIZE)));
  }

  /** ZERO, UNMEASURED, SECRETS or CPUID pages: CONTENTS is zero. */
  updateEmptyPages(pageType: PageType, gpa: number, length: number): void {
    for (let off = 0; off < length; off += PAGE_SIZE) this.update(pageType, gpa + off);
  }
}
