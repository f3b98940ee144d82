/**
 * Boot shape `uki`: a UKI started by OVMF as the boot option on a GPT disk's ESP. Firmware measures the
 * GPT (PCR5) and the UKI (PCR4); systemd-stub measures each UKI section (PCR11, src/boot/measure.c,
 * stub.c) and LoadImage()s .linux (PCR4); the kernel's EFI stub measures .cmdline and .initrd (PCR9).
 */
import { uefiGptData, type Gpt } from '../../formats/gpt.js';
import { parseUki, type Uki } from '../../formats/uki.js';
import { parsePe } from '../../formats/pe.js';
import { InputError } from '../../errors.js';
import type { HashAlg } from '../../tcg/index.js';
import { latin1Bytes, utf8Text } from '../../util/bytes.js';
import { event, utf16z, type MeasuredEvent } from './events.js';
import {
  authorityEvents,
  bootAttemptEvent,
  exitBootServicesEvents,
  readyToBootSeparators,
  secureBootEnabled,
  secureBootPolicyEvents,
  type FirmwareParams,
} from './firmware.js';
import { linuxStubEvents } from './linux-stub.js';

export interface UkiBootInputs {
  uki: Uint8Array;
  /** The boot disk's GPT (PCR5 EV_EFI_GPT_EVENT); absent when the ESP is not on a GPT disk. */
  gpt?: Gpt;
  /** systemd-stub major version; default: read from the UKI's .sdmagic. */
  stubVersion?: number;
}

/**
 * systemd src/boot/uki.h unified_sections order (measurement order; .pcrsig is never measured).
 * 252–253: .linux .osrel .cmdline .initrd .splash .dtb .pcrpkey; 254 adds .uname .sbat; 255 adds .ucode.
 */
export function measuredSections(stubVersion: number): string[] {
  const s = ['.linux', '.osrel', '.cmdline', '.initrd'];
  if (stubVersion >= 255) s.push('.ucode');
  s.push('.splash', '.dtb');
  if (stubVersion >= 254) s.push('.uname', '.sbat');
  s.push('.pcrpkey');
  return s;
}

/** The stub's major version (systemd-stub 252.39 → 252). */
export function ukiStubVersion(uki: Uki, override?: number): number {
  if (override !== undefined) return override;
  const m = uki.stubVersion ? /^(\d+)/.exec(uki.stubVersion) : null;
  if (!m) throw new InputError('UKI: no systemd-stub version in .sdmagic; pass the stub version explicitly');
  return Number(m[1]);
}

/** PCR11 (systemd-stub): for each present section, EV_IPL of its name (ASCII + NUL) then of its content. */
export function ukiSectionEvents(uki: Uki, stubVersion: number, algs: readonly HashAlg[]): MeasuredEvent[] {
  if (uki.sections.has('.profile')) throw new InputError('UKI: multi-profile UKIs (.profile sections) are not modelled');
  const out: MeasuredEvent[] = [];
  for (const name of measuredSections(stubVersion)) {
    const data = uki.sections.get(name);
    if (!data) continue;
    out.push(event(11, 'EV_IPL', `${name} (name)`, latin1Bytes(`${name}\0`), algs, utf16z(name)));
    out.push(event(11, 'EV_IPL', name, data, algs, utf16z(name)));
  }
  return out;
}

export function ukiBootEvents(inputs: UkiBootInputs, fw: FirmwareParams, algs: readonly HashAlg[]): MeasuredEvent[] {
  const uki = parseUki(inputs.uki);
  const stubVersion = ukiStubVersion(uki, inputs.stubVersion);
  const linuxBytes = uki.sections.get('.linux')!;
  const linux = parsePe(linuxBytes);
  const cmdline = uki.sections.get('.cmdline');
  const sb = secureBootEnabled(fw);
  return [
    ...secureBootPolicyEvents(fw, algs),
    bootAttemptEvent(algs),
    ...readyToBootSeparators(algs),
    ...authorityEvents(fw, uki.pe, 'UKI', algs),
    ...(inputs.gpt ? [event(5, 'EV_EFI_GPT_EVENT', 'GPT', uefiGptData(inputs.gpt), algs, uefiGptData(inputs.gpt))] : []),
    event(4, 'EV_EFI_BOOT_SERVICES_APPLICATION', 'UKI', { authenticode: uki.pe }, algs),
    ...ukiSectionEvents(uki, stubVersion, algs),
    // Secure Boot on: systemd-stub installs its security override and the firmware neither verifies nor
    // measures .linux (observed with systemd-stub 252); off: LoadImage measures it into PCR4.
    ...(sb ? [] : [event(4, 'EV_EFI_BOOT_SERVICES_APPLICATION', 'UKI .linux', { authenticode: linux }, algs)]),
    // systemd-stub passes .cmdline (converted to UTF-16, NUL-terminated) as the kernel's LoadOptions.
    ...linuxStubEvents(linuxBytes, cmdline ? utf16z(utf8Text(cmdline).split('\0')[0]!) : undefined, uki.sections.get('.initrd'), algs),
    ...exitBootServicesEvents(algs),
  ];
}
