/**
 * TDX RTMRs from the shared boot-event model (src/measure/boot): the events a vTPM would see, mapped by
 * edk2's CC measurement (PCR1,7 → RTMR0; PCR2–6 → RTMR1; PCR8–15 → RTMR2) and extended with SHA-384.
 */
import { toHex, utf16le } from '../../util/bytes.js';
import { CC_RTMR_MAP, replay } from '../../tcg/index.js';
import { bootEvents, directLoadOptions, type MeasuredEvent } from '../boot/index.js';

/** What RTMR0 measures besides the inputs this package takes: reported when RTMR0 is not computed. */
export const RTMR0_DEPENDS_ON: readonly string[] = [
  'the TD HOB the VMM builds (guest memory size and layout, TDVF TD_HOB/TempMem sections)',
  'the CFV / UEFI variable store contents (OVMF_VARS, Secure Boot PK/KEK/db/dbx)',
  'the ACPI tables the VMM generates (QEMU etc/table-loader, RSDP, tables: machine type, vCPUs, devices)',
  'the boot variables BootOrder/Boot#### (devices on the VM)',
];

/** One event as it lands in an RTMR. */
export interface RtmrEvent {
  rtmr: number;
  pcr: number;
  type: string;
  component: string;
  sha384: string;
}

/** A boot event as it lands in its RTMR under edk2's CC map. */
export function rtmrEvent(e: MeasuredEvent): RtmrEvent {
  return { rtmr: CC_RTMR_MAP.map(e.pcr)!, pcr: e.pcr, type: e.type, component: e.component, sha384: toHex(e.digests.sha384!) };
}

/** RTMR0..2 (SHA-384) for a boot-event list, plus the events per RTMR. Events need sha384 digests. */
export function rtmrsFromBootEvents(events: readonly MeasuredEvent[]): { rtmr: Uint8Array[]; events: RtmrEvent[] } {
  const cc = CC_RTMR_MAP.select(events);
  const regs = replay(cc, CC_RTMR_MAP, 'sha384', [0, 1, 2]);
  return {
    rtmr: [0, 1, 2].map((i) => regs.get(i)!),
    events: cc.map(rtmrEvent),
  };
}

/**
 * QEMU patches the bzImage setup header (x86_load_linux) before OVMF measures it, except for
 * confidential guests from QEMU 10.2.0 on (commit a7542a38f399 "x86/loader: Don't update kernel
 * header for CoCo VMs"; earlier releases skipped it for SEV only).
 */
export function qemuPatchesSetupHeader(qemuVersion: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(qemuVersion);
  if (!m) return true;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj < 10 || (maj === 10 && min < 2);
}

export interface TdxDirectBoot {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline: string;
  memMiB: number;
  /** See qemuPatchesSetupHeader. */
  patchSetupHeader: boolean;
}

/**
 * RTMR1 and RTMR2 of a QEMU direct kernel boot (-kernel/-initrd/-append) under a TDX OVMF: the boot
 * model's `direct` shape in SHA-384 through the CC map. RTMR0 is not computed (see RTMR0_DEPENDS_ON).
 */
export function tdxDirectBootRtmrs(b: TdxDirectBoot): { rtmr: Uint8Array[]; events: RtmrEvent[]; measuredCmdline: string } {
  const events = bootEvents(
    { shape: 'direct', kernel: b.kernel, initrd: b.initrd, cmdline: b.cmdline, qemu: { memMiB: b.memMiB, patchSetupHeader: b.patchSetupHeader } },
    { algs: ['sha384'] },
  );
  const r = rtmrsFromBootEvents(events);
  const opts = directLoadOptions(b.cmdline, b.initrd !== undefined);
  return { ...r, events: r.events.filter((e) => e.rtmr !== 0), measuredCmdline: utf16le(opts).replace(/\0$/, '') };
}
