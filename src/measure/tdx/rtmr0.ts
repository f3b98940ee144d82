/**
 * RTMR0 of a QEMU TD booted by TDVF (edk2 OvmfPkg with CC measurement): the events TDVF measures into CC
 * MR index 1 from the VMM (TD HOB, fw_cfg files) and from its own image (CFV / variable store, Secure
 * Boot policy, boot variables), in log order, through the shared boot-event model and edk2's CC map.
 * A model: no TDX host here runs QEMU, so nothing in it was checked against a real TD's log.
 */
import { InputError } from '../../errors.js';
import { ovmfMemoryVolumes } from '../../formats/firmware-volume.js';
import { parseE820, tableLoaderAllocations } from '../../formats/qemu-fw-cfg.js';
import { parseVarStore, secureBootVariables } from '../../formats/efi-varstore.js';
import { parseTdvfMetadata, type TdvfSection } from '../../formats/tdvf.js';
import { CC_RTMR_MAP, replay } from '../../tcg/index.js';
import { bootOptionEvents } from '../boot/boot-options.js';
import { event, type MeasuredEvent } from '../boot/events.js';
import { secureBootPolicyEvents } from '../boot/firmware.js';
import { tdHob, tdRamEntries } from './td-hob.js';

/** What RTMR0 is: predicted by this model, never compared with a real TD here. */
export const RTMR0_STATUS = 'model (not hardware-checked)';

/**
 * Which TDVF event sequence: `legacy` — edk2 before stable202505 (e.g. 2024.02 in Ubuntu 24.04's TDX
 * stack); `fw-cfg-cache` — stable202505 on, whose PEI caches fw_cfg items and measures six of them
 * (QemuFwCfgCacheInit.c) before the Secure Boot variables.
 */
export const TDVF_EVENT_LAYOUTS = ['legacy', 'fw-cfg-cache'] as const;
export type TdvfEventLayout = (typeof TDVF_EVENT_LAYOUTS)[number];

/** What the VMM serves the firmware: fw_cfg files by name, and the BootMenu item (fw_cfg key 0x0e, `-boot menu=on`). */
export interface QemuFwCfg {
  files: ReadonlyMap<string, Uint8Array>;
  bootMenu: number;
}

const ALGS = ['sha384'] as const;

/**
 * edk2 OvmfPkg/Library/QemuFwCfgLib/QemuFwCfgCacheInit.c mCacheFwCfgList, the entries with NeedMeasure:
 * name and required size (0 = any); an entry whose file is absent, empty or of another size is skipped.
 */
const CACHED_MEASURED: readonly [string, number][] = [
  ['etc/extra-pci-roots', 8],
  ['BootMenu', 2],
  ['etc/boot-menu-wait', 2],
  ['etc/reserved-memory-end', 8],
  ['opt/ovmf/X-PciMmio64Mb', 0],
  ['bootorder', 0],
];

/** CacheFwCfgInfoWithOptionalMeasurment: EV_PLATFORM_CONFIG_FLAGS over each item's data (event data "QEMU FW CFG" + name). */
function fwCfgCacheEvents(fwCfg: QemuFwCfg): MeasuredEvent[] {
  const out: MeasuredEvent[] = [];
  for (const [name, size] of CACHED_MEASURED) {
    const data = name === 'BootMenu' ? Uint8Array.of(fwCfg.bootMenu & 0xff, fwCfg.bootMenu >> 8) : fwCfg.files.get(name);
    if (!data || data.length === 0 || (size !== 0 && data.length !== size)) continue;
    out.push(event(1, 'EV_PLATFORM_CONFIG_FLAGS', `fw_cfg ${name}`, data, ALGS));
  }
  return out;
}

/**
 * edk2 OvmfPkg/AcpiPlatformDxe/QemuFwCfgAcpi.c: InstallQemuFwCfgTables measures "etc/table-loader" as
 * downloaded, then ProcessCmdAllocate measures each allocated blob right after its download, before any
 * pointer or checksum patch — EV_PLATFORM_CONFIG_FLAGS "ACPI DATA" into PCR1 (→ RTMR0). No table-loader
 * (QEMU -no-acpi): no events.
 */
function acpiEvents(fwCfg: QemuFwCfg): MeasuredEvent[] {
  const loader = fwCfg.files.get('etc/table-loader');
  if (!loader) return [];
  return [
    event(1, 'EV_PLATFORM_CONFIG_FLAGS', 'ACPI etc/table-loader', loader, ALGS),
    ...tableLoaderAllocations(loader).map((a) => {
      const blob = fwCfg.files.get(a.file);
      if (!blob) throw new InputError(`the table-loader allocates fw_cfg file ${a.file}, which the platform does not have`);
      return event(1, 'EV_PLATFORM_CONFIG_FLAGS', `ACPI ${a.file}`, blob, ALGS);
    }),
  ];
}

function section(sections: readonly TdvfSection[], type: TdvfSection['type']): TdvfSection {
  const s = sections.find((x) => x.type === type);
  if (!s) throw new InputError(`TDVF metadata has no ${type} section: RTMR0 is modelled for OVMF-based TDVF images`);
  return s;
}

export interface Rtmr0Model {
  events: MeasuredEvent[];
  /** RTMR0 (SHA-384). */
  value: Uint8Array;
  /** The TD HOB's RAM ranges, as measured. */
  ram: { address: number; length: number; accepted: boolean }[];
}

/**
 * RTMR0 of a QEMU direct kernel boot (`-kernel`, the boot shape `measure tdx` models) under the TDVF image
 * `firmware` with the VMM data `fwCfg`, in log order:
 * 1. TD HOB — EV_EFI_HANDOFF_TABLES2 "TdxTable" (SecTdxHelper.c TdxHelperMeasureTdHob; TdxMeasurementHob.c);
 *    built from etc/e820 and the TDVF sections (./td-hob.ts).
 * 2. CFV — EV_EFI_PLATFORM_FIRMWARE_BLOB2, the CFV section's raw bytes (TdxHelperMeasureCfvImage).
 * 3. `fw-cfg-cache` only: the cached fw_cfg items (QemuFwCfgCacheInit.c).
 * 4. PCR7 → RTMR0: SecureBoot, PK, KEK, db, dbx from the CFV's variable store, and the separator
 *    (TdTcg2Dxe MeasureSecureBootPolicy; PFP 3.3.4.8) — the boot model's secureBootPolicyEvents.
 * 5. ACPI: etc/table-loader and each blob it allocates (QemuFwCfgAcpi.c).
 * 6. PCR1 → RTMR0: BootOrder and Boot#### (the boot model's bootOptionEvents for a direct boot).
 * TdTcg2Dxe logs one separator per RTMR (CC_RTMR_MAP keeps the PCR7 one).
 * @throws {InputError} a platform without etc/e820, a table-loader naming a file the platform lacks, a TDVF image without CFV/TD_HOB or a RAM layout QEMU would refuse; {FormatError} unparsable metadata, fw_cfg files or volumes.
 */
export function tdxRtmr0(firmware: Uint8Array, fwCfg: QemuFwCfg, layout: TdvfEventLayout): Rtmr0Model {
  const { sections } = parseTdvfMetadata(firmware);
  const e820 = fwCfg.files.get('etc/e820');
  if (!e820) throw new InputError('the platform has no fw_cfg etc/e820: the TD HOB (guest memory map) cannot be built');
  const hob = section(sections, 'TD_HOB');
  const ram = tdRamEntries(parseE820(e820), sections);
  const cfv = section(sections, 'CFV');
  const cfvBytes = firmware.subarray(cfv.dataOffset, cfv.dataOffset + cfv.rawDataSize);
  const secureBoot = secureBootVariables(parseVarStore(cfvBytes));
  const dxe = ovmfMemoryVolumes(firmware).dxe;
  const events = [
    event(1, 'EV_EFI_HANDOFF_TABLES2', `TD HOB (${ram.length} RAM ranges from etc/e820)`, tdHob(hob.memoryAddress, hob.memoryDataSize, ram), ALGS),
    event(1, 'EV_EFI_PLATFORM_FIRMWARE_BLOB2', `CFV (variable store, 0x${cfv.memoryAddress.toString(16)}+0x${cfv.rawDataSize.toString(16)})`, cfvBytes, ALGS),
    ...(layout === 'fw-cfg-cache' ? fwCfgCacheEvents(fwCfg) : []),
    ...secureBootPolicyEvents({ secureBoot }, ALGS),
    ...acpiEvents(fwCfg),
    ...bootOptionEvents(dxe, { kind: 'direct' }, ALGS),
  ];
  const selected = CC_RTMR_MAP.select(events);
  return { events: selected, value: replay(selected, CC_RTMR_MAP, 'sha384', [0]).get(0)!, ram };
}
