/**
 * The report of `inspect firmware`: what an OVMF / SVSM image declares (OVMF footer GUID table, SEV
 * metadata, SEV-ES reset EIP, SNP kernel-hash page, TDX metadata presence; src/formats/ovmf.ts), its
 * digests and, for an image of whole 4 KiB pages, where it is loaded (below 4 GiB) and the SNP digest
 * after its pages (`measure snp --print-seed`). Pure: bytes in, report out.
 */
import { describeOvmf, parseOvmf } from '../formats/ovmf.js';
import { toHex } from '../util/bytes.js';
import { digest } from '../util/hash.js';
import { snpFirmwareSeed } from './snp/launch.js';

const FOUR_GIB = 0x1_0000_0000;

export type FirmwareReport = ReturnType<typeof describeOvmf> & {
  sha256: string;
  sha384: string;
  /** Guest-physical load address (the image ends at 4 GiB), or null when the image is not whole pages. */
  gpa: string | null;
  /** SNP launch digest after the firmware pages only, or null as for `gpa`. */
  snpSeed: string | null;
};

/** Describes a firmware image; throws FormatError for a malformed footer table or metadata. */
export function firmwareReport(image: Uint8Array): FirmwareReport {
  const d = describeOvmf(parseOvmf(image));
  const pageAligned = image.length > 0 && image.length % 0x1000 === 0 && image.length <= FOUR_GIB;
  return {
    sha256: toHex(digest('sha256', image)),
    sha384: toHex(digest('sha384', image)),
    ...d,
    gpa: pageAligned ? `0x${(FOUR_GIB - image.length).toString(16)}` : null,
    snpSeed: pageAligned ? toHex(snpFirmwareSeed(image)) : null,
  };
}
