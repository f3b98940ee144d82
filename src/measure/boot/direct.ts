/**
 * Boot shape `direct`: QEMU -kernel/-initrd/-append with OVMF. OVMF's QemuKernelLoaderFsDxe exposes the
 * (QEMU-patched) kernel, X86QemuLoadImageLib LoadImage()s it (PCR4 Authenticode) with LoadOptions
 * "<cmdline>[ initrd=initrd]", and the kernel's EFI stub measures LoadOptions and the initrd into PCR9.
 */
import { parsePe } from '../../formats/pe.js';
import type { HashAlg } from '../../tcg/index.js';
import { event, utf16z, type MeasuredEvent } from './events.js';
import {
  authorityEvents,
  bootAttemptEvent,
  dbAuthority,
  exitBootServicesEvents,
  readyToBootSeparators,
  secureBootEnabled,
  secureBootPolicyEvents,
  type FirmwareParams,
} from './firmware.js';
import { linuxStubEvents } from './linux-stub.js';
import { qemuPatchedKernel, type QemuDirectBoot } from './qemu-kernel.js';

export interface DirectBootInputs {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  /** -append; QEMU always passes a command line (empty when -append is absent). */
  cmdline?: string;
  qemu: QemuDirectBoot;
}

/** OVMF QemuLoadKernelImage: the kernel's LoadOptions, UTF-16LE with NUL. */
export function directLoadOptions(cmdline: string, hasInitrd: boolean): Uint8Array {
  return utf16z(`${cmdline}${hasInitrd ? ' initrd=initrd' : ''}`);
}

export function directBootEvents(inputs: DirectBootInputs, fw: FirmwareParams, algs: readonly HashAlg[]): MeasuredEvent[] {
  const cmdline = inputs.cmdline ?? '';
  const kernel = qemuPatchedKernel(inputs.kernel, inputs.qemu, inputs.initrd?.length, cmdline);
  const patched = inputs.qemu.patchSetupHeader !== false;
  const image = parsePe(kernel);
  const loadOptions = directLoadOptions(cmdline, inputs.initrd !== undefined);
  // Secure Boot on and the kernel not admitted by db (QEMU's setup-header patch alone breaks any signature):
  // LoadImage fails verification and OVMF 2022.11 falls back to its legacy bzImage loader, so there is no
  // PCR4 image event and no LoadOptions for the stub to measure; the stub still measures the initrd.
  if (secureBootEnabled(fw) && (patched || !dbAuthority(fw.secureBoot?.db ?? new Uint8Array(0), image, fw.issuedBy))) {
    return [
      ...secureBootPolicyEvents(fw, algs),
      bootAttemptEvent(algs),
      ...readyToBootSeparators(algs),
      ...linuxStubEvents(inputs.kernel, undefined, inputs.initrd, algs),
      ...exitBootServicesEvents(algs),
    ];
  }
  return [
    ...secureBootPolicyEvents(fw, algs),
    ...authorityEvents(fw, image, 'kernel', algs),
    event(4, 'EV_EFI_BOOT_SERVICES_APPLICATION', patched ? 'kernel (QEMU-patched bzImage)' : 'kernel', { authenticode: image }, algs),
    bootAttemptEvent(algs),
    ...readyToBootSeparators(algs),
    ...linuxStubEvents(inputs.kernel, loadOptions, inputs.initrd, algs),
    ...exitBootServicesEvents(algs),
  ];
}
