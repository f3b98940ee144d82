/**
 * PCR0 on OVMF + QEMU: the S-CRTM version, the PEI and DXE firmware volumes as Tcg2Pei measures them from
 * RAM, and the separator. SEC decompresses both volumes from the flash (src/formats/firmware-volume.ts);
 * the DXE volume is measured as decompressed, but PEI modules run in place from the PEI volume, so the
 * globals they write before the measurement are part of the PEI blob. On edk2-stable202211 (Debian's
 * OVMF 2022.11) those are PlatformPei's EFI_HOB_PLATFORM_INFO (OvmfPkg/Include/Library/PlatformInitLib.h)
 * and QemuFwCfgPeiLib's two probe flags (OvmfPkg/Library/QemuFwCfgLib/QemuFwCfgPei.c). Both are located
 * in the firmware's own code, never at offsets seen in one build; a build whose code does not show them is
 * refused. The values follow OvmfPkg/PlatformPei/{Platform.c,MemDetect.c} and
 * OvmfPkg/Library/PlatformInitLib/{Platform.c,MemDetect.c} for the VM configuration.
 */
import { InputError } from '../../errors.js';
import { EFI_SECTION_PE32, ovmfMemoryVolumes, parseFirmwareVolume, parseSections, type OvmfMemoryVolumes } from '../../formats/firmware-volume.js';
import { parsePe } from '../../formats/pe.js';
import type { HashAlg } from '../../tcg/index.js';
import { bytesEqual, guidToBytes, toHex, u32le, view } from '../../util/bytes.js';
import { digest } from '../../util/hash.js';
import { event, type MeasuredEvent } from './events.js';
import { below4g } from './qemu-kernel.js';

/** The QEMU VM configuration PEI reads (fw_cfg, the host bridge, the CPU hotplug register block, E820). */
export interface QemuPlatform {
  machine: 'q35' | 'pc';
  /** -m in MiB. */
  memMiB: number;
  /** -smp N: vCPUs at boot. */
  cpus: number;
  /** -smp maxcpus=M (default N). */
  maxCpus?: number;
  /** Guest physical-address bits reported by CPUID 0x80000008 (QEMU's default CPU models: 40). */
  physBits?: number;
}

/** OvmfPkg/PlatformPei/PlatformPei.inf FILE_GUID. */
const PLATFORM_PEI_GUID = '222c386d-5abc-4fb4-b124-fbb82488acf4';
/** OvmfPkg.dec gUefiOvmfPkgPlatformInfoGuid: the HOB GUID BuildPlatformInfoHob passes with the global. */
const PLATFORM_INFO_GUID = 'dec9b486-1f16-47c7-8f68-df1a41888ba5';
/** sizeof (EFI_HOB_PLATFORM_INFO) in edk2-stable202211, the layout serialized below. */
const PLATFORM_INFO_SIZE = 0x8a;
const IMAGE_FILE_MACHINE_I386 = 0x14c;
/** QemuFwCfgInitialize compares the fw_cfg signature item with SIGNATURE_32 ('Q','E','M','U'). */
const QEMU_SIGNATURE = [0x51, 0x45, 0x4d, 0x55];

/** Where the PEI-written platform data lives in the PEI volume, as found in PlatformPei's code. */
export interface PeiPlatformLayout {
  /** Memory address of the PEI volume (PcdOvmfPeiMemFvBase) and its length. */
  peiBase: number;
  peiLength: number;
  /** PEI-volume offsets of mPlatformInfoHob and of mQemuFwCfgSupported / mQemuFwCfgDmaSupported. */
  platformInfo: number;
  fwCfgSupported: number;
  fwCfgDmaSupported: number;
}

const refuse = (why: string) =>
  new InputError(
    `OVMF: PEI platform data layout not understood (${why}); PCR0 is modelled for edk2-stable202211 OvmfPkgIa32X64 builds such as Debian's OVMF 2022.11`,
  );

/** Offsets of IA-32 `push imm32` (0x68) triples `push size; push data; push guid` → BuildGuidDataHob(guid, data, size). */
function findPlatformInfo(img: Uint8Array, toOffset: (addr: number) => number | undefined, guidOffset: number): { size: number; at: number } | undefined {
  for (let i = 0; i + 15 <= img.length; i++) {
    if (img[i] !== 0x68 || img[i + 5] !== 0x68 || img[i + 10] !== 0x68) continue;
    if (toOffset(u32le(img, i + 11)) !== guidOffset) continue;
    const at = toOffset(u32le(img, i + 6));
    if (at !== undefined) return { size: u32le(img, i + 1), at };
  }
  return undefined;
}

/** QemuFwCfgInitialize: `mov byte [A], 1; mov byte [B], 0` (C6 05 imm32 imm8) shortly before `cmp r32, 'QEMU'`. */
function findFwCfgFlags(img: Uint8Array, toOffset: (addr: number) => number | undefined): [number, number][] {
  const found: [number, number][] = [];
  for (let i = 2; i + 4 <= img.length; i++) {
    if (img[i - 2] !== 0x81 || (img[i - 1]! & 0xf8) !== 0xf8 || !QEMU_SIGNATURE.every((b, k) => img[i + k] === b)) continue;
    const stores: number[] = [];
    for (let j = Math.max(0, i - 64); j + 7 <= i - 2; j++) {
      if (img[j] === 0xc6 && img[j + 1] === 0x05) {
        const at = toOffset(u32le(img, j + 2));
        if (at !== undefined) stores.push(at);
      }
    }
    if (stores.length >= 2) found.push([stores[0]!, stores[1]!]);
  }
  return found;
}

/** Finds PlatformPei in the PEI volume and, in its code, the globals PEI writes before Tcg2Pei measures the volume. */
export function peiPlatformLayout(pei: Uint8Array): PeiPlatformLayout {
  const fv = parseFirmwareVolume(pei);
  const file = fv.files.find((f) => f.guid === PLATFORM_PEI_GUID);
  if (!file) throw refuse(`no PlatformPei (${PLATFORM_PEI_GUID}) in the PEI volume`);
  const section = parseSections(file.data).find((s) => s.type === EFI_SECTION_PE32);
  if (!section) throw refuse('PlatformPei has no PE32 section');
  const image = parsePe(section.data);
  if (image.machine !== IMAGE_FILE_MACHINE_I386 || image.magic !== 0x10b)
    throw refuse(`PlatformPei is built for machine 0x${image.machine.toString(16)}, only IA-32 PEI is modelled`);
  if (image.sectionAlignment !== image.fileAlignment) throw refuse('PlatformPei is not an execute-in-place image (section and file alignment differ)');
  const imageStart = file.dataOffset + section.dataOffset;
  const imageBase = u32le(image.bytes, image.optionalHeaderOffset + 28);
  const peiBase = imageBase - imageStart;
  const img = section.data;
  const toOffset = (addr: number) => (addr >= imageBase && addr < imageBase + img.length ? imageStart + addr - imageBase : undefined);
  const guid = guidToBytes(PLATFORM_INFO_GUID);
  let guidOffset: number | undefined;
  for (let i = 0; i + 16 <= img.length && guidOffset === undefined; i += 4) if (bytesEqual(img.subarray(i, i + 16), guid)) guidOffset = imageStart + i;
  if (guidOffset === undefined) throw refuse('gUefiOvmfPkgPlatformInfoGuid is not in PlatformPei');
  const info = findPlatformInfo(img, toOffset, guidOffset);
  if (!info) throw refuse('no BuildGuidDataHob (gUefiOvmfPkgPlatformInfoGuid, &mPlatformInfoHob, size) call in PlatformPei');
  if (info.size !== PLATFORM_INFO_SIZE)
    throw refuse(`EFI_HOB_PLATFORM_INFO is 0x${info.size.toString(16)} bytes, the modelled edk2-stable202211 layout is 0x${PLATFORM_INFO_SIZE.toString(16)}`);
  const flags = findFwCfgFlags(img, toOffset);
  if (flags.length !== 1) throw refuse(`found ${flags.length} QemuFwCfgInitialize probe sequences in PlatformPei, expected 1`);
  return { peiBase, peiLength: fv.length, platformInfo: info.at, fwCfgSupported: flags[0]![0], fwCfgDmaSupported: flags[0]![1] };
}

/** EFI_HOB_PLATFORM_INFO (edk2-stable202211 PlatformInitLib.h, #pragma pack(1)): the fields PEI fills on QEMU. */
export interface PlatformInfo {
  hostBridgeDevId: number;
  s3Supported: boolean;
  firstNonAddress: bigint;
  physMemAddressWidth: number;
  uc32Base: number;
  uc32Size: number;
  pciMmio64Base: bigint;
  pciMmio64Size: bigint;
  pciMmio32Base: number;
  pciMmio32Size: number;
  pciIoBase: number;
  pciIoSize: number;
  bootCpus: number;
  maxCpus: number;
  defaultMaxCpus: number;
  s3AcpiReservedMemoryBase: number;
  s3AcpiReservedMemorySize: number;
}

/** OvmfPkg/Include/IndustryStandard: Q35 MCH and i440FX host-bridge device IDs (PCI 00:00.0 DID). */
const HOST_BRIDGE_DEV_ID = { q35: 0x29c0, pc: 0x1237 } as const;
/** Build settings of OvmfPkgIa32X64.dsc (edk2-stable202211): PcdPciExpressBaseAddress, PcdPciMmio64Size, PcdCpuMaxLogicalProcessorNumber, PcdCpuApStackSize. */
const PCI_EXPRESS_BASE = 0xb0000000;
const PCI_MMIO64_SIZE = 0x800000000n;
const DEFAULT_MAX_CPUS = 64;
const AP_STACK_SIZE = 0x8000;
const GiB = 1n << 30n;
const alignUp = (v: bigint, a: bigint) => ((v + a - 1n) / a) * a;
const pow2Below = (v: bigint) => {
  let p = 1n;
  while (p * 2n <= v) p *= 2n;
  return p;
};

/** The platform-info values PlatformPei computes for a QEMU configuration (no SMM, no S3 resume, no memory hotplug). */
export function platformInfo(p: QemuPlatform): PlatformInfo {
  const maxCpus = p.maxCpus ?? p.cpus;
  if (!Number.isInteger(p.cpus) || p.cpus < 1 || maxCpus < p.cpus || maxCpus > 0xffff)
    throw new InputError(`-smp ${p.cpus},maxcpus=${maxCpus}: need 1 <= vCPUs <= maxcpus`);
  const ram = BigInt(p.memMiB) << 20n;
  const lowmem = below4g(p.memMiB, p.machine);
  // PlatformGetFirstNonAddress: RAM above 4 GiB, then the 64-bit PCI aperture aligned to its own size.
  let mmio64Base = alignUp((1n << 32n) + ram - BigInt(lowmem), GiB);
  let mmio64Size = alignUp(PCI_MMIO64_SIZE, GiB);
  mmio64Base = alignUp(mmio64Base, pow2Below(mmio64Size));
  const firstNonAddress = mmio64Base + mmio64Size;
  // PlatformAddressWidthFromCpuid (QEMU quirk: 40 bits is trusted for QEMU's AMD-signature default CPU) and PlatformDynamicMmioWindow.
  const width = Math.min(p.physBits ?? 40, 40);
  const addrSpace = 1n << BigInt(width);
  const mmioSpace = 1n << BigInt(width - 3);
  if (mmio64Size < mmioSpace && mmio64Base + mmioSpace < addrSpace) {
    mmio64Size = mmioSpace;
    mmio64Base = addrSpace - mmioSpace;
  }
  // PlatformQemuUc32BaseInitialization and PlatformMemMapInitialization.
  const q35 = p.machine === 'q35';
  const uc32Size = q35 ? 0 : Number(pow2Below(BigInt(2 ** 32 - lowmem)));
  const uc32Base = q35 ? (lowmem <= 0x80000000 ? 0x80000000 : PCI_EXPRESS_BASE) : 2 ** 32 - uc32Size;
  const pciMmio32Base = q35 ? PCI_EXPRESS_BASE + 0x10000000 : uc32Base;
  // PublishPeiMemory: S3 permanent PEI memory below the top of low RAM.
  const s3Size = 0x80000 + maxCpus * AP_STACK_SIZE;
  return {
    hostBridgeDevId: HOST_BRIDGE_DEV_ID[p.machine],
    s3Supported: true,
    firstNonAddress,
    physMemAddressWidth: width,
    uc32Base,
    uc32Size,
    pciMmio64Base: mmio64Base,
    pciMmio64Size: mmio64Size,
    pciMmio32Base,
    pciMmio32Size: 0xfc000000 - pciMmio32Base,
    pciIoBase: q35 ? 0x6000 : 0xc000,
    pciIoSize: q35 ? 0xa000 : 0x4000,
    bootCpus: p.cpus,
    maxCpus,
    defaultMaxCpus: DEFAULT_MAX_CPUS,
    s3AcpiReservedMemoryBase: lowmem - s3Size,
    s3AcpiReservedMemorySize: s3Size,
  };
}

/** EFI_HOB_PLATFORM_INFO bytes as the global holds them (its HOB header stays zero: BuildGuidDataHob copies the rest). */
export function platformInfoBytes(i: PlatformInfo): Uint8Array {
  const b = new Uint8Array(PLATFORM_INFO_SIZE);
  const v = view(b);
  v.setUint16(24, i.hostBridgeDevId, true); // after EFI_HOB_GUID_TYPE (8 + 16)
  // 26 PcdConfidentialComputingGuestAttr u64, 34 SevEsIsEnabled, 35 BootMode u32 (BOOT_WITH_FULL_CONFIGURATION = 0)
  v.setUint8(39, i.s3Supported ? 1 : 0);
  // 40 SmmSmramRequire, 41 Q35SmramAtDefaultSmbase, 42 Q35TsegMbytes u16
  v.setBigUint64(44, i.firstNonAddress, true);
  v.setUint8(52, i.physMemAddressWidth);
  v.setUint32(53, i.uc32Base, true);
  v.setUint32(57, i.uc32Size, true);
  // 61 PcdSetNxForStack, 62 PcdTdxSharedBitMask u64
  v.setBigUint64(70, i.pciMmio64Base, true);
  v.setBigUint64(78, i.pciMmio64Size, true);
  v.setUint32(86, i.pciMmio32Base, true);
  v.setUint32(90, i.pciMmio32Size, true);
  v.setBigUint64(94, BigInt(i.pciIoBase), true);
  v.setBigUint64(102, BigInt(i.pciIoSize), true);
  // 110 PcdEmuVariableNvStoreReserved u64 (flash varstore: 0)
  v.setUint32(118, i.bootCpus, true);
  v.setUint32(122, i.maxCpus, true);
  v.setUint32(126, i.defaultMaxCpus, true);
  v.setUint32(130, i.s3AcpiReservedMemoryBase, true);
  v.setUint32(134, i.s3AcpiReservedMemorySize, true);
  return b;
}

/** The PEI volume as Tcg2Pei measures it: the decompressed volume with PlatformPei's globals written. */
export function peiVolumeAsMeasured(pei: Uint8Array, layout: PeiPlatformLayout, p: QemuPlatform): Uint8Array {
  const out = pei.slice(0, layout.peiLength);
  out.set(platformInfoBytes(platformInfo(p)), layout.platformInfo);
  // QemuFwCfgInitialize on QEMU >= 2.9 (fw_cfg DMA), no SEV/TDX: both probe flags TRUE.
  out[layout.fwCfgSupported] = 1;
  out[layout.fwCfgDmaSupported] = 1;
  return out;
}

/** An OVMF image prepared once for many PCR0 predictions (decompression and the DXE digests are the slow part). */
export interface OvmfPcr0Model {
  volumes: OvmfMemoryVolumes;
  layout: PeiPlatformLayout;
  dxeBase: number;
  dxeLength: number;
  dxeDigests: Map<string, MeasuredEvent['digests']>;
}

/** Decompresses the memory volumes and locates the PEI platform data; throws InputError for a layout not understood. */
export function ovmfPcr0Model(flash: Uint8Array): OvmfPcr0Model {
  const volumes = ovmfMemoryVolumes(flash);
  const layout = peiPlatformLayout(volumes.pei);
  // OvmfPkg MEMFD.fdf: DXEFV follows PEIFV in RAM (PcdOvmfDxeMemFvBase = PcdOvmfPeiMemFvBase + PcdOvmfPeiMemFvSize).
  return { volumes, layout, dxeBase: layout.peiBase + layout.peiLength, dxeLength: parseFirmwareVolume(volumes.dxe).length, dxeDigests: new Map() };
}

/** PFP 10.2.5 UEFI_PLATFORM_FIRMWARE_BLOB: UINT64 base, UINT64 length. */
function blob(base: number, length: number): Uint8Array {
  const b = new Uint8Array(16);
  view(b).setBigUint64(0, BigInt(base), true);
  view(b).setBigUint64(8, BigInt(length), true);
  return b;
}

/** Describes the knobs of a configuration as `eventlog diff` and `measure pcr` name them. */
export function describePlatform(p: QemuPlatform): string {
  return `${p.machine}, ${p.memMiB} MiB, ${p.cpus} vCPUs, maxcpus ${p.maxCpus ?? p.cpus}`;
}

/** PCR0 before its separator: S-CRTM version (empty UTF-16 string), the PEI blob, the DXE blob (edk2 Tcg2Pei). */
export function platformFirmwareEvents(model: OvmfPcr0Model, p: QemuPlatform, algs: readonly HashAlg[]): MeasuredEvent[] {
  const key = algs.join(',');
  const dxeData = blob(model.dxeBase, model.dxeLength);
  let dxe = model.dxeDigests.get(key);
  if (!dxe) {
    dxe = event(0, 'EV_EFI_PLATFORM_FIRMWARE_BLOB', '', model.volumes.dxe.subarray(0, model.dxeLength), algs).digests;
    model.dxeDigests.set(key, dxe);
  }
  const crtm = new Uint8Array(2);
  return [
    event(0, 'EV_S_CRTM_VERSION', 'S-CRTM version', crtm, algs, crtm),
    event(
      0,
      'EV_EFI_PLATFORM_FIRMWARE_BLOB',
      `PEI firmware volume (PEI platform data: ${describePlatform(p)})`,
      peiVolumeAsMeasured(model.volumes.pei, model.layout, p),
      algs,
      blob(model.layout.peiBase, model.layout.peiLength),
    ),
    { pcr: 0, type: 'EV_EFI_PLATFORM_FIRMWARE_BLOB', component: 'DXE firmware volume', digests: dxe, eventData: dxeData },
  ];
}

/** Names the knobs in which `actual` differs from `predicted`, e.g. "4 vCPUs, predicted 2". */
export function platformDifference(actual: QemuPlatform, predicted: QemuPlatform): string {
  const out: string[] = [];
  if (actual.machine !== predicted.machine) out.push(`machine ${actual.machine}, predicted ${predicted.machine}`);
  if (actual.cpus !== predicted.cpus) out.push(`${actual.cpus} vCPUs, predicted ${predicted.cpus}`);
  if ((actual.maxCpus ?? actual.cpus) !== (predicted.maxCpus ?? predicted.cpus))
    out.push(`maxcpus ${actual.maxCpus ?? actual.cpus}, predicted ${predicted.maxCpus ?? predicted.cpus}`);
  if (below4g(actual.memMiB, actual.machine) !== below4g(predicted.memMiB, predicted.machine) || (actual.memMiB !== predicted.memMiB && out.length === 0))
    out.push(`-m ${actual.memMiB} (or any size with the same RAM below 4 GiB), predicted ${predicted.memMiB}`);
  return out.join('; ');
}

/** Memory sizes tried when naming the knob behind a PEI blob (MiB): each gives a different top of RAM below 4 GiB. */
const MEMORY_CANDIDATES = [128, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 3584, 4096];
const MAX_SEARCH_CPUS = 64;

/**
 * The configuration whose PEI volume has digest `digestHex` in bank `alg`, searched around `predicted`:
 * vCPUs and maxcpus up to 64, the other machine type, common memory sizes. Undefined when none matches.
 */
export function findPlatform(model: OvmfPcr0Model, predicted: QemuPlatform, alg: HashAlg, digestHex: string): QemuPlatform | undefined {
  const seen = new Set<string>();
  const tries = function* (): Generator<QemuPlatform> {
    const { machine, memMiB, cpus } = predicted;
    const maxCpus = predicted.maxCpus ?? cpus;
    const machines = [machine, machine === 'q35' ? 'pc' : 'q35'] as const;
    for (const m of machines) {
      for (const mem of [memMiB, ...MEMORY_CANDIDATES]) yield { machine: m, memMiB: mem, cpus, maxCpus: Math.max(cpus, maxCpus) };
      for (let c = 1; c <= MAX_SEARCH_CPUS; c++) {
        yield { machine: m, memMiB, cpus: c, maxCpus: c };
        yield { machine: m, memMiB, cpus: c, maxCpus: Math.max(c, maxCpus) };
        if (c >= cpus) yield { machine: m, memMiB, cpus, maxCpus: c };
      }
    }
    for (const m of machines)
      for (let c = 1; c <= MAX_SEARCH_CPUS; c++) for (let x = c; x <= MAX_SEARCH_CPUS; x++) yield { machine: m, memMiB, cpus: c, maxCpus: x };
  };
  for (const p of tries()) {
    const key = `${p.machine}/${below4g(p.memMiB, p.machine)}/${p.cpus}/${p.maxCpus}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (toHex(digest(alg, peiVolumeAsMeasured(model.volumes.pei, model.layout, p))) === digestHex) return p;
  }
  return undefined;
}
