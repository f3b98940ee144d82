/**
 * The SEV hash table QEMU writes into the guest for measured direct boot (QEMU target/i386/sev.c
 * SevHashTable / SevHashTableEntry; OVMF OvmfPkg/AmdSev/BlobVerifierLibSevHashes reads it): SHA-256 of
 * the kernel, initrd and NUL-terminated command line, each under its own GUID.
 */
import { InputError } from '../../errors.js';
import { concatBytes, guidToBytes, utf8, view } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';
import { PAGE_SIZE } from './gctx.js';

export const SEV_HASH_TABLE_HEADER_GUID = '9438d606-4f22-4cc9-b479-a793d411fd21';
export const SEV_KERNEL_ENTRY_GUID = '4de79437-abd2-427f-b835-d5b172d2045b';
export const SEV_INITRD_ENTRY_GUID = '44baf731-3a2f-4bd7-9af1-41e29169781d';
export const SEV_CMDLINE_ENTRY_GUID = '97d02dd8-bd20-4c94-aa78-e7714d36ab2a';

/** SHA-256 digests of the three direct-boot blobs. */
export interface SevHashes {
  kernel: Uint8Array;
  initrd: Uint8Array;
  cmdline: Uint8Array;
}

/** What the caller knows about a direct boot: the kernel (and initrd) digests, streamed by the caller, and the command line. */
export interface DirectBoot {
  kernelSha256?: Uint8Array;
  initrdSha256?: Uint8Array;
  cmdline?: string;
}

export function sha256(data: Uint8Array | string): Uint8Array {
  return digest('sha256', typeof data === 'string' ? utf8(data) : data);
}

/**
 * The three SHA-256 digests of a measured direct boot. QEMU hashes the command line as passed plus its
 * NUL terminator; no --append (or an empty one) is the single byte NUL. A missing initrd hashes as the
 * empty string.
 * @throws InputError for an initrd or command line without a kernel, or a digest that is not 32 bytes.
 */
export function sevHashes(boot: DirectBoot): SevHashes {
  if (!boot.kernelSha256) {
    throw new InputError(`${boot.initrdSha256 ? 'an initrd' : 'a command line'} is measured only with a kernel (--initrd/--append require --kernel)`);
  }
  for (const [name, d] of [
    ['kernel', boot.kernelSha256],
    ['initrd', boot.initrdSha256],
  ] as const) {
    if (d && d.length !== 32) throw new InputError(`${name} digest must be 32 bytes (SHA-256), got ${d.length}`);
  }
  return {
    kernel: boot.kernelSha256,
    initrd: boot.initrdSha256 ?? sha256(''),
    cmdline: sha256(concatBytes(utf8(boot.cmdline ?? ''), new Uint8Array(1))),
  };
}

/** SevHashTableEntry: GUID, u16 length (50), SHA-256. */
const ENTRY_SIZE = 16 + 2 + 32;
/** SevHashTable: GUID, u16 length (168), cmdline, initrd, kernel entries. */
const TABLE_SIZE = 16 + 2 + 3 * ENTRY_SIZE;
/** PaddedSevHashTable: the table padded with zeros to a 16-byte multiple (176). */
export const PADDED_TABLE_SIZE = (TABLE_SIZE + 15) & ~15;

/** The padded SEV hash table bytes exactly as QEMU lays them out. */
export function sevHashTable(h: SevHashes): Uint8Array {
  const out = new Uint8Array(PADDED_TABLE_SIZE);
  const dv = view(out);
  out.set(guidToBytes(SEV_HASH_TABLE_HEADER_GUID), 0);
  dv.setUint16(16, TABLE_SIZE, true);
  const entries: [string, Uint8Array][] = [
    [SEV_CMDLINE_ENTRY_GUID, h.cmdline],
    [SEV_INITRD_ENTRY_GUID, h.initrd],
    [SEV_KERNEL_ENTRY_GUID, h.kernel],
  ];
  entries.forEach(([guid, digest], i) => {
    const o = 18 + i * ENTRY_SIZE;
    out.set(guidToBytes(guid), o);
    dv.setUint16(o + 16, ENTRY_SIZE, true);
    out.set(digest, o + 18);
  });
  return out;
}

/** The 4 KiB page holding the table at `offsetInPage` (the SNP_KERNEL_HASHES page, measured as NORMAL). */
export function sevHashPage(h: SevHashes, offsetInPage: number): Uint8Array {
  if (offsetInPage + PADDED_TABLE_SIZE > PAGE_SIZE)
    throw new InputError(`SEV hash table at page offset 0x${offsetInPage.toString(16)} does not fit in its page`);
  const page = new Uint8Array(PAGE_SIZE);
  page.set(sevHashTable(h), offsetInPage);
  return page;
}
