/**
 * The boot-event model: a boot shape and its inputs → the ordered events firmware, systemd-stub and the
 * Linux EFI stub measure. Register maps (src/tcg) turn the same list into TPM PCRs or TDX RTMRs.
 */
import { directBootEvents, type DirectBootInputs } from './direct.js';
import type { HashAlg } from '../../tcg/index.js';
import { HASH_ALGS, type MeasuredEvent } from './events.js';
import type { FirmwareParams } from './firmware.js';
import { ukiBootEvents, type UkiBootInputs } from './uki.js';
import { platformFirmwareEvents, type OvmfPcr0Model, type QemuPlatform } from './platform.js';
import { bootOptionEvents, type BootDevices } from './boot-options.js';

export type BootShape = 'direct' | 'uki';
export const BOOT_SHAPES: readonly BootShape[] = ['direct', 'uki'];

export type BootInputs = ({ shape: 'direct' } & DirectBootInputs) | ({ shape: 'uki' } & UkiBootInputs);

export interface BootParams {
  /** Banks to compute digests for (default all three). */
  algs?: readonly HashAlg[];
  firmware?: FirmwareParams;
  /** The OVMF image and VM configuration: adds PCR0 (firmware volumes) and PCR1 (boot variables). */
  platform?: PlatformParams;
}

export interface PlatformParams {
  ovmf: OvmfPcr0Model;
  vm: QemuPlatform;
  /** Disk boot: where the boot disk sits (default for `uki`: virtio-blk at the first free slot, see defaultDiskSlot). */
  devices?: BootDevices;
}

/** The first free PCI slot with QEMU -nodefaults: q35 has only the host bridge at 00.0, i440fx also the PIIX3 at 01.0. */
export function defaultDiskSlot(machine: QemuPlatform['machine']): number {
  return machine === 'q35' ? 1 : 2;
}

/**
 * The boot events OVMF and the stub/kernel measure for a boot shape (direct kernel boot or a UKI, with its disk's
 * GPT and the variable store when given), in log order, with their digests in every requested bank: the one
 * boot-event model PCRs and RTMRs are replayed from.
 * @throws InputError or FormatError from the inputs' parsers (kernel, UKI, GPT, variable store).
 */
export function bootEvents(inputs: BootInputs, params: BootParams = {}): MeasuredEvent[] {
  const algs = params.algs ?? HASH_ALGS;
  const fw = params.firmware ?? {};
  const events = inputs.shape === 'direct' ? directBootEvents(inputs, fw, algs) : ukiBootEvents(inputs, fw, algs);
  const p = params.platform;
  if (!p) return events;
  const devices: BootDevices =
    p.devices ?? (inputs.shape === 'direct' ? { kind: 'direct' } : { kind: 'virtio-blk', pci: { slot: defaultDiskSlot(p.vm.machine), function: 0 } });
  // PCR0's events come first in the log (PEI); the boot variables are measured at ready-to-boot, before the separators.
  const separators = events.findIndex((e) => e.pcr === 0 && e.type === 'EV_SEPARATOR');
  return [
    ...platformFirmwareEvents(p.ovmf, p.vm, algs),
    ...events.slice(0, separators),
    ...bootOptionEvents(p.ovmf.volumes.dxe, devices, algs),
    ...events.slice(separators),
  ];
}

export * from './events.js';
export { secureBootEnabled, type FirmwareParams, type X509IssuedBy } from './firmware.js';
export { directLoadOptions, type DirectBootInputs } from './direct.js';
export { measuredSections, type UkiBootInputs } from './uki.js';
export { qemuPatchedKernel, type QemuDirectBoot } from './qemu-kernel.js';
export { bzImageVersion, linuxStubMeasures } from './linux-stub.js';
export { ovmfPcr0Model, platformFirmwareEvents, platformInfo, describePlatform, type OvmfPcr0Model, type QemuPlatform, type PlatformInfo } from './platform.js';
export { ovmfBootOptions, pciAddress, type BootDevices, type PciAddress } from './boot-options.js';
