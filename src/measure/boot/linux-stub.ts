/**
 * What the Linux EFI stub measures into PCR9 (drivers/firmware/efi/libstub/efi-stub-helper.c): the
 * LoadOptions it was started with (Linux >= 6.1, tagged event 0x8f3b22ed) and the initrd it loaded via
 * LINUX_EFI_INITRD_MEDIA_GUID (Linux >= 5.17, tagged event 0x8f3b22ec).
 */
import type { HashAlg } from '../../tcg/index.js';
import { latin1 } from '../../util/bytes.js';
import { taggedEvent, type MeasuredEvent } from './events.js';

/** Linux include/linux/efi.h: EFI_TCG2_TAGGED_EVENT ids (INITRD_EVENT_TAG_ID, LOAD_OPTIONS_EVENT_TAG_ID). */
const INITRD_EVENT_TAG_ID = 0x8f3b22ec;
const LOAD_OPTIONS_EVENT_TAG_ID = 0x8f3b22ed;

/** The kernel release from the bzImage setup header (boot.rst: kernel_version at 0x20e points to it, +0x200). */
export function bzImageVersion(kernel: Uint8Array): string | undefined {
  if (kernel.length < 0x210 || latin1(kernel.subarray(0x202, 0x206)) !== 'HdrS') return undefined;
  const at = (kernel[0x20e]! | (kernel[0x20f]! << 8)) + 0x200;
  if (at >= kernel.length) return undefined;
  const end = kernel.indexOf(0, at);
  const s = latin1(kernel.subarray(at, end < 0 ? Math.min(kernel.length, at + 256) : end));
  return /^\d+\.\d+/.test(s) ? s.split(' ')[0] : undefined;
}

/** Which PCR9 measurements this kernel's EFI stub makes: LoadOptions since 6.1, the initrd since 5.17 (unknown version → both). */
export function linuxStubMeasures(kernel: Uint8Array): { loadOptions: boolean; initrd: boolean } {
  const m = /^(\d+)\.(\d+)/.exec(bzImageVersion(kernel) ?? '');
  if (!m) return { loadOptions: true, initrd: true };
  const v = Number(m[1]) * 1000 + Number(m[2]);
  return { loadOptions: v >= 6001, initrd: v >= 5017 };
}

/**
 * `loadOptions` are the raw LoadOptions bytes (UTF-16LE including the terminating NUL); absent → not
 * measured. `kernel` (the bzImage) decides which measurements its stub makes.
 */
export function linuxStubEvents(
  kernel: Uint8Array,
  loadOptions: Uint8Array | undefined,
  initrd: Uint8Array | undefined,
  algs: readonly HashAlg[],
): MeasuredEvent[] {
  const does = linuxStubMeasures(kernel);
  if (!does.loadOptions) loadOptions = undefined;
  if (!does.initrd) initrd = undefined;
  const out: MeasuredEvent[] = [];
  if (loadOptions && loadOptions.length > 0)
    out.push(taggedEvent(9, LOAD_OPTIONS_EVENT_TAG_ID, 'LOADED_IMAGE::LoadOptions', 'kernel command line (LoadOptions)', loadOptions, algs));
  if (initrd) out.push(taggedEvent(9, INITRD_EVENT_TAG_ID, 'Linux initrd', 'initrd', initrd, algs));
  return out;
}
