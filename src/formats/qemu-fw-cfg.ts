/**
 * QEMU fw_cfg files TDVF reads and measures: the ACPI linker/loader script "etc/table-loader" and the
 * E820 table "etc/e820". Strict, bounds-checked readers over the bytes the VMM serves.
 */
import { FormatError } from '../errors.js';
import { checkRange, latin1, u32le, u64le } from '../util/bytes.js';

/**
 * QEMU hw/acpi/bios-linker-loader.c BiosLinkerLoaderEntry (edk2 OvmfPkg/AcpiPlatformDxe/QemuLoader.h
 * QEMU_LOADER_ENTRY): 128 bytes, UINT32 Command then a command-specific union.
 */
const ENTRY_SIZE = 128;
/** BIOS_LINKER_LOADER_FILESZ / QEMU_LOADER_FNAME_SIZE: NUL-terminated fw_cfg file names of 56 bytes. */
const FNAME_SIZE = 56;
/** QemuLoader.h QemuLoaderCmdAllocate; ALLOCATE = { File[56], UINT32 Alignment, UINT8 Zone }. */
const CMD_ALLOCATE = 1;
/** QemuLoader.h QEMU_LOADER_ALLOC_HIGH / _FSEG. */
const ZONES = [1, 2];

export interface LoaderAllocation {
  /** fw_cfg file the firmware downloads (e.g. "etc/acpi/tables", "etc/acpi/rsdp"). */
  file: string;
  alignment: number;
  zone: number;
}

/** A NUL-terminated name in a 56-byte field (edk2 refuses a name without its NUL: EFI_PROTOCOL_ERROR). */
function loaderName(b: Uint8Array, at: number, what: string): string {
  const field = b.subarray(at, at + FNAME_SIZE);
  const nul = field.indexOf(0);
  if (nul <= 0) throw new FormatError('QEMU table-loader', `${what}: ${nul === 0 ? 'empty' : 'unterminated'} file name`);
  return latin1(field.subarray(0, nul));
}

/**
 * The ALLOCATE commands of "etc/table-loader" in command order: the blobs edk2 AcpiPlatformDxe
 * (QemuFwCfgAcpi.c ProcessCmdAllocate) downloads and measures, in that order. Other commands (ADD_POINTER,
 * ADD_CHECKSUM, WRITE_POINTER) patch blobs after they were measured; unknown commands are skipped as edk2
 * skips them.
 * @throws {FormatError} for a partial command, a bad name or zone, or a file allocated twice.
 */
export function tableLoaderAllocations(loader: Uint8Array): LoaderAllocation[] {
  if (loader.length === 0 || loader.length % ENTRY_SIZE !== 0)
    throw new FormatError('QEMU table-loader', `${loader.length} bytes is not a whole number of ${ENTRY_SIZE}-byte commands`);
  const out: LoaderAllocation[] = [];
  for (let o = 0; o < loader.length; o += ENTRY_SIZE) {
    if (u32le(loader, o) !== CMD_ALLOCATE) continue;
    const what = `ALLOCATE command at 0x${o.toString(16)}`;
    const file = loaderName(loader, o + 4, what);
    const alignment = u32le(loader, o + 4 + FNAME_SIZE);
    const zone = loader[o + 8 + FNAME_SIZE]!;
    if (!ZONES.includes(zone)) throw new FormatError('QEMU table-loader', `${what} (${file}): unknown zone ${zone}`);
    if (out.some((a) => a.file === file)) throw new FormatError('QEMU table-loader', `${what}: ${file} is allocated twice (edk2 refuses a duplicated file)`);
    out.push({ file, alignment, zone });
  }
  return out;
}

/** E820 entry types (ACPI 6.5 Table 15.312 "Address Range Types"): 1 = AddressRangeMemory. */
export const E820_RAM = 1;

export interface E820Entry {
  address: number;
  length: number;
  type: number;
}

/**
 * QEMU hw/i386/e820_memory_layout.h struct e820_entry (packed): UINT64 address, UINT64 length, UINT32 type — 20 bytes each.
 * @throws {FormatError} for a partial entry or one ending beyond 2^53.
 */
export function parseE820(b: Uint8Array): E820Entry[] {
  if (b.length % 20 !== 0) throw new FormatError('QEMU etc/e820', `${b.length} bytes is not a whole number of 20-byte entries`);
  const out: E820Entry[] = [];
  for (let o = 0; o < b.length; o += 20) {
    checkRange(b, o, 20, 'QEMU etc/e820');
    const address = u64le(b, o);
    const length = u64le(b, o + 8);
    if (address + length > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('QEMU etc/e820', `entry ${o / 20} ends beyond 2^53`);
    out.push({ address: Number(address), length: Number(length), type: u32le(b, o + 16) });
  }
  return out;
}
