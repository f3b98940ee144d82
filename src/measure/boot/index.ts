/**
 * The boot-event model: a boot shape and its inputs → the ordered events firmware, systemd-stub and the
 * Linux EFI stub measure. Register maps (src/tcg) turn the same list into TPM PCRs or TDX RTMRs.
 */
import { directBootEvents, type DirectBootInputs } from './direct.js';
import type { HashAlg } from '../../tcg/index.js';
import { HASH_ALGS, type MeasuredEvent } from './events.js';
import type { FirmwareParams } from './firmware.js';
import { ukiBootEvents, type UkiBootInputs } from './uki.js';

export type BootShape = 'direct' | 'uki';
export const BOOT_SHAPES: readonly BootShape[] = ['direct', 'uki'];

export type BootInputs = ({ shape: 'direct' } & DirectBootInputs) | ({ shape: 'uki' } & UkiBootInputs);

export interface BootParams {
  /** Banks to compute digests for (default all three). */
  algs?: readonly HashAlg[];
  firmware?: FirmwareParams;
}

export function bootEvents(inputs: BootInputs, params: BootParams = {}): MeasuredEvent[] {
  const algs = params.algs ?? HASH_ALGS;
  const fw = params.firmware ?? {};
  return inputs.shape === 'direct' ? directBootEvents(inputs, fw, algs) : ukiBootEvents(inputs, fw, algs);
}

export * from './events.js';
export { secureBootEnabled, type FirmwareParams, type X509IssuedBy } from './firmware.js';
export { directLoadOptions, type DirectBootInputs } from './direct.js';
export { measuredSections, type UkiBootInputs } from './uki.js';
export { qemuPatchedKernel, type QemuDirectBoot } from './qemu-kernel.js';
export { bzImageVersion, linuxStubMeasures } from './linux-stub.js';
