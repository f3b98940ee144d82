/**
 * GUID Partition Table (UEFI 2.10 section 5.3 "GUID Partition Table (GPT) Disk Layout") and the
 * UEFI_GPT_DATA structure firmware measures into PCR5 (TCG PC Client PFP 10.4.6; edk2
 * DxeTpm2MeasureBootLib Tcg2MeasureGptTable).
 */
import { FormatError } from '../errors.js';
import { checkRange, guidToString, latin1, u32le, u64le, utf16le, view } from '../util/bytes.js';

const WHAT = 'GPT';
/** UEFI 2.10 Table 5.5: the GPT header fields firmware copies (sizeof(EFI_PARTITION_TABLE_HEADER) = 92). */
const HEADER_SIZE = 92;
const SIGNATURE = 'EFI PART';
const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

export interface GptPartition {
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  startingLba: bigint;
  endingLba: bigint;
  name: string;
  /** The raw SizeOfPartitionEntry-byte entry. */
  raw: Uint8Array;
}

export interface Gpt {
  blockSize: number;
  diskGuid: string;
  /** The 92-byte EFI_PARTITION_TABLE_HEADER as stored at LBA 1. */
  header: Uint8Array;
  sizeOfPartitionEntry: number;
  /** Used entries (PartitionTypeGUID not zero), in table order. */
  partitions: GptPartition[];
}

/**
 * Parses the primary GPT from the start of a disk (an image, or at least its first LBAs).
 * @throws FormatError for a missing header, an implausible header or entry size or count, or entries outside the input.
 */
export function parseGpt(disk: Uint8Array): Gpt {
  const blockSize = [512, 4096].find((bs) => disk.length >= bs + 8 && latin1(disk.subarray(bs, bs + 8)) === SIGNATURE);
  if (blockSize === undefined) throw new FormatError(WHAT, 'no "EFI PART" header at LBA 1 (512- or 4096-byte sectors)');
  checkRange(disk, blockSize, HEADER_SIZE, `${WHAT} header`);
  const h = disk.subarray(blockSize, blockSize + HEADER_SIZE);
  const headerSize = u32le(h, 12);
  if (headerSize < HEADER_SIZE || headerSize > blockSize) throw new FormatError(WHAT, `HeaderSize ${headerSize} outside [${HEADER_SIZE}, ${blockSize}]`);
  const entryLba = u64le(h, 72);
  const count = u32le(h, 80);
  const entrySize = u32le(h, 84);
  if (entrySize < 128 || entrySize % 8 !== 0 || entrySize > 4096)
    throw new FormatError(WHAT, `SizeOfPartitionEntry ${entrySize} is not a multiple of 8 in [128, 4096]`);
  if (count > 65536) throw new FormatError(WHAT, `NumberOfPartitionEntries ${count} is implausible`);
  const start = Number(entryLba) * blockSize;
  checkRange(disk, start, count * entrySize, `${WHAT} partition entry array (LBA ${entryLba}, ${count} x ${entrySize} bytes)`);
  const partitions: GptPartition[] = [];
  for (let i = 0; i < count; i++) {
    const o = start + i * entrySize;
    const typeGuid = guidToString(disk, o);
    if (typeGuid === ZERO_GUID) continue;
    const e = disk.subarray(o, o + entrySize);
    const name = utf16le(e.subarray(56, 128));
    partitions.push({
      index: i,
      typeGuid,
      uniqueGuid: guidToString(e, 16),
      startingLba: u64le(e, 32),
      endingLba: u64le(e, 40),
      name: name.includes('\0') ? name.slice(0, name.indexOf('\0')) : name,
      raw: e,
    });
  }
  return { blockSize, diskGuid: guidToString(h, 56), header: h, sizeOfPartitionEntry: entrySize, partitions };
}

/** PFP 10.4.6 UEFI_GPT_DATA: the GPT header, UINT64 NumberOfPartitions, then each used partition entry. */
export function uefiGptData(gpt: Gpt): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + 8 + gpt.partitions.length * gpt.sizeOfPartitionEntry);
  out.set(gpt.header, 0);
  view(out).setBigUint64(HEADER_SIZE, BigInt(gpt.partitions.length), true);
  for (const [i, p] of gpt.partitions.entries()) out.set(p.raw, HEADER_SIZE + 8 + i * gpt.sizeOfPartitionEntry);
  return out;
}
