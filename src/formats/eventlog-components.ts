/**
 * `eventlog replay --explain`: which boot component each logged event belongs to. A heuristic over
 * event types and data (PC Client PFP section 10.4; Linux EFI stub tags 0x8f3b22ed/0x8f3b22ec;
 * GRUB's EV_IPL strings; systemd-stub's UTF-16 section names), documented as such.
 */
import { fromHex, u16le, utf16le } from '../util/bytes.js';
import type { TcgEvent } from './tcg-eventlog.js';

export const COMPONENTS = ['firmware', 'variables', 'boot loader', 'kernel', 'cmdline', 'initrd'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Linux EFI stub EV_EVENT_TAG ids (drivers/firmware/efi/libstub). */
const TAG_LOAD_OPTIONS = '0x8f3b22ed';
const TAG_INITRD = '0x8f3b22ec';

/** The UTF-16 file-path nodes (type 4, subtype 4) of a device path, joined. */
function devicePathFiles(hex: string): string {
  const b = fromHex(hex, 'device path');
  const names: string[] = [];
  for (let o = 0; o + 4 <= b.length; ) {
    const len = u16le(b, o + 2);
    if (len < 4) break;
    if (b[o] === 4 && b[o + 1] === 4) names.push(utf16le(b.subarray(o + 4, o + len)).replace(/\0+$/, ''));
    o += len;
  }
  return names.join('/');
}

/**
 * The component a TCG event belongs to (kernel, initrd, cmdline, boot loader, variables, firmware), from its
 * type and decoded data (device path, EV_IPL text, the Linux stub's event tags); `firmware` when nothing else fits.
 */
export function componentOf(e: TcgEvent): Component {
  const d = e.decoded ?? {};
  switch (e.typeName) {
    case 'EV_EFI_VARIABLE_DRIVER_CONFIG':
    case 'EV_EFI_VARIABLE_BOOT':
    case 'EV_EFI_VARIABLE_BOOT2':
    case 'EV_EFI_VARIABLE_AUTHORITY':
      return 'variables';
    case 'EV_EVENT_TAG':
      if (d.tagId === TAG_LOAD_OPTIONS) return 'cmdline';
      if (d.tagId === TAG_INITRD) return 'initrd';
      return 'boot loader';
    case 'EV_EFI_BOOT_SERVICES_APPLICATION': {
      const path = typeof d.devicePath === 'string' ? devicePathFiles(d.devicePath).toLowerCase() : '';
      return /kernel|vmlinuz|bzimage|linux/.test(path) ? 'kernel' : 'boot loader';
    }
    case 'EV_IPL': {
      const text = typeof d.text === 'string' ? d.text : '';
      // systemd-stub (PCR11): the UKI section names it measures
      if (text === '.linux') return 'kernel';
      if (text === '.cmdline') return 'cmdline';
      if (text === '.initrd') return 'initrd';
      if (/^kernel_cmdline:|^grub_kernel_cmdline|^grub_cmd: linux(efi)? /.test(text)) return 'cmdline';
      if (/initrd|initramfs/i.test(text)) return 'initrd';
      if (/vmlinuz|bzimage/i.test(text)) return 'kernel';
      return 'boot loader';
    }
    case 'EV_EFI_GPT_EVENT':
    case 'EV_EFI_BOOT_SERVICES_DRIVER':
      return 'boot loader';
    default:
      return 'firmware';
  }
}

/** Event indexes grouped by component, in COMPONENTS order (empty groups omitted). */
export function groupByComponent(events: readonly TcgEvent[]): { component: Component; events: number[] }[] {
  const by = new Map<Component, number[]>();
  for (const e of events) {
    const c = componentOf(e);
    by.set(c, [...(by.get(c) ?? []), e.index]);
  }
  return COMPONENTS.filter((c) => by.has(c)).map((c) => ({ component: c, events: by.get(c)! }));
}
