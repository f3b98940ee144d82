/**
 * The TD HOB a QEMU TDX host writes into the TDVF TD_HOB section before the TD starts, as TDVF measures
 * it into RTMR0. QEMU target/i386/kvm/tdx.c (tdx_init_ram_entries, tdx_accept_ram_range, tdx_finalize_vm)
 * and hw/i386/tdvf-hob.c (tdvf_hob_create); structures from PI 1.8 vol. 3 §5 (HOB code definitions).
 */
import { InputError } from '../../errors.js';
import { E820_RAM, type E820Entry } from '../../formats/qemu-fw-cfg.js';
import type { TdvfSection } from '../../formats/tdvf.js';
import { concatBytes, view } from '../../util/bytes.js';

/** One guest RAM range as the TD HOB describes it: added (accepted at build time) or left for TDVF to accept. */
export interface TdRamEntry {
  address: number;
  length: number;
  accepted: boolean;
}

/**
 * tdx_init_ram_entries: every E820 RAM entry starts unaccepted; tdx_finalize_vm then accepts the TD_HOB
 * and TempMem sections (tdx_accept_ram_range: the range must lie in one RAM entry, which splits into
 * head / added range / tail) and sorts the entries by address (tdx_ram_entry_compare).
 * @throws {InputError} for a section not inside one RAM entry.
 */
export function tdRamEntries(e820: readonly E820Entry[], sections: readonly TdvfSection[]): TdRamEntry[] {
  const entries: TdRamEntry[] = e820.filter((e) => e.type === E820_RAM).map((e) => ({ address: e.address, length: e.length, accepted: false }));
  for (const s of sections) {
    if (s.type !== 'TD_HOB' && s.type !== 'TempMem') continue;
    const [start, end] = [s.memoryAddress, s.memoryAddress + s.memoryDataSize];
    const i = entries.findIndex((e) => !e.accepted && e.address <= start && end <= e.address + e.length);
    if (i < 0)
      throw new InputError(
        `TDVF ${s.type} section 0x${start.toString(16)}+0x${s.memoryDataSize.toString(16)} is not inside one unaccepted RAM range of etc/e820 (QEMU refuses this TD)`,
      );
    const e = entries[i]!;
    const pieces: TdRamEntry[] = [{ address: start, length: end - start, accepted: true }];
    if (start > e.address) pieces.push({ address: e.address, length: start - e.address, accepted: false });
    if (end < e.address + e.length) pieces.push({ address: end, length: e.address + e.length - end, accepted: false });
    entries.splice(i, 1, ...pieces);
  }
  return entries.sort((a, b) => a.address - b.address);
}

/** PI vol. 3 §5.2 EFI_HOB_GENERIC_HEADER: UINT16 HobType, UINT16 HobLength, UINT32 Reserved. */
function hobHeader(b: Uint8Array, type: number): void {
  view(b).setUint16(0, type, true);
  view(b).setUint16(2, b.length, true);
}
const EFI_HOB_TYPE_HANDOFF = 0x0001;
const EFI_HOB_TYPE_RESOURCE_DESCRIPTOR = 0x0003;
const EFI_HOB_TYPE_END_OF_HOB_LIST = 0xffff;
/** PI vol. 3 §5.3 EFI_HOB_HANDOFF_TABLE_VERSION. */
const HANDOFF_TABLE_VERSION = 9;
/** PI vol. 3 §5.5 resource types; EFI_RESOURCE_MEMORY_UNACCEPTED (7) is PI 1.8's addition for TDX/SNP. */
const EFI_RESOURCE_SYSTEM_MEMORY = 0;
const EFI_RESOURCE_MEMORY_UNACCEPTED = 7;
/** QEMU tdvf-hob.h EFI_RESOURCE_ATTRIBUTE_TDVF_PRIVATE / _UNACCEPTED: PRESENT | INITIALIZED | TESTED for both. */
const TDVF_RESOURCE_ATTRIBUTES = 0x1 | 0x2 | 0x4;

/**
 * tdvf_hob_create: a PHIT HOB (PI §5.3 EFI_HOB_HANDOFF_INFO_TABLE, 56 bytes: Version 9, BootMode 0, memory
 * fields zero, EfiEndOfHobList = guest address just past the end HOB), one resource descriptor per RAM
 * entry (§5.5 EFI_HOB_RESOURCE_DESCRIPTOR, 48 bytes, zero owner), then the end HOB. Returns the bytes TDVF
 * hashes: edk2 SecTdxHelper.c TdxHelperMeasureTdHob measures from the start up to, not including, the end HOB.
 * @throws {InputError} when the HOB does not fit its TD_HOB section.
 */
export function tdHob(hobAddress: number, hobSize: number, entries: readonly TdRamEntry[]): Uint8Array {
  const phit = new Uint8Array(56);
  hobHeader(phit, EFI_HOB_TYPE_HANDOFF);
  view(phit).setUint32(8, HANDOFF_TABLE_VERSION, true);
  const resources = entries.map((e) => {
    const r = new Uint8Array(48);
    hobHeader(r, EFI_HOB_TYPE_RESOURCE_DESCRIPTOR);
    view(r).setUint32(24, e.accepted ? EFI_RESOURCE_SYSTEM_MEMORY : EFI_RESOURCE_MEMORY_UNACCEPTED, true);
    view(r).setUint32(28, TDVF_RESOURCE_ATTRIBUTES, true);
    view(r).setBigUint64(32, BigInt(e.address), true);
    view(r).setBigUint64(40, BigInt(e.length), true);
    return r;
  });
  const end = new Uint8Array(8);
  hobHeader(end, EFI_HOB_TYPE_END_OF_HOB_LIST);
  const measured = concatBytes(phit, ...resources);
  const total = measured.length + end.length;
  if (total > hobSize)
    throw new InputError(`TD HOB of ${entries.length} RAM ranges (${total} bytes) overruns the ${hobSize}-byte TD_HOB section (QEMU: "TD_HOB overrun")`);
  view(measured).setBigUint64(48, BigInt(hobAddress + total), true);
  return measured;
}
