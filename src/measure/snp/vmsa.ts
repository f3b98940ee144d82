/**
 * The VMSA (SEV-ES save area) pages the VMM adds for each vCPU: AMD APM vol 2 Table B-4 "VMSA Layout,
 * State Save Area for SEV-ES" (field names as Linux struct sev_es_save_area). All other bytes are 0.
 */
import { view } from '../../util/bytes.js';
import { PAGE_SIZE } from './gctx.js';
import type { VmmProfile } from './vmm.js';

/** APM vol 2 Table B-4 offsets of the fields a reset VMSA sets. */
const OFF = {
  es: 0x00,
  cs: 0x10,
  ss: 0x20,
  ds: 0x30,
  fs: 0x40,
  gs: 0x50,
  gdtr: 0x60,
  ldtr: 0x70,
  idtr: 0x80,
  tr: 0x90,
  efer: 0xd0,
  cr4: 0x148,
  cr0: 0x158,
  dr7: 0x160,
  dr6: 0x168,
  rflags: 0x170,
  rip: 0x178,
  gPat: 0x268,
  rdx: 0x310,
  sevFeatures: 0x3b0,
  xcr0: 0x3e8,
  mxcsr: 0x408,
  x87Fcw: 0x410,
} as const;

/** APM vol 2 Table B-4: VMCB segment (u16 selector, u16 attrib, u32 limit, u64 base). */
function seg(page: DataView, at: number, selector: number, attrib: number, limit: number, base: number): void {
  page.setUint16(at, selector, true);
  page.setUint16(at + 2, attrib, true);
  page.setUint32(at + 4, limit >>> 0, true);
  page.setBigUint64(at + 8, BigInt(base), true);
}

/** The reset vector the BSP starts at (real mode, top of 4 GiB). */
export const BSP_EIP = 0xfffffff0;

export interface VmsaParams {
  eip: number;
  sevFeatures: bigint;
  profile: VmmProfile;
}

/** State common to OVMF and SVSM VMSAs (KVM's reset values): GS, descriptor tables, TR, control and FPU registers. */
function common(page: DataView, sevFeatures: bigint, p: VmmProfile): void {
  seg(page, OFF.gs, 0, 0x93, 0xffff, 0);
  seg(page, OFF.gdtr, 0, 0, 0xffff, 0);
  seg(page, OFF.ldtr, 0, 0x82, 0xffff, 0);
  seg(page, OFF.idtr, 0, 0, 0xffff, 0);
  seg(page, OFF.tr, 0, p.trAttrib, 0xffff, 0);
  page.setBigUint64(OFF.efer, 0x1000n, true); // EFER.SVME, set by KVM
  page.setBigUint64(OFF.cr4, 0x40n, true); // CR4.MCE, set by KVM
  page.setBigUint64(OFF.dr7, 0x400n, true);
  page.setBigUint64(OFF.dr6, 0xffff0ff0n, true);
  page.setBigUint64(OFF.rflags, 0x2n, true);
  page.setBigUint64(OFF.gPat, p.gPat, true);
  page.setBigUint64(OFF.rdx, BigInt(p.rdx), true);
  page.setBigUint64(OFF.sevFeatures, sevFeatures, true);
  page.setBigUint64(OFF.xcr0, 0x1n, true);
  page.setUint32(OFF.mxcsr, p.mxcsr, true);
  page.setUint16(OFF.x87Fcw, p.fcw, true);
}

/** A VMSA at the x86 reset state, entering real mode at `eip` (CS base = eip & 0xffff0000, RIP = eip & 0xffff). */
export function resetVmsa({ eip, sevFeatures, profile: p }: VmsaParams): Uint8Array {
  const page = view(new Uint8Array(PAGE_SIZE));
  const csAttrib = eip === BSP_EIP ? p.csAttribBsp : p.csAttribAp;
  seg(page, OFF.es, 0, 0x93, 0xffff, 0);
  seg(page, OFF.cs, 0xf000, csAttrib, 0xffff, (eip & 0xffff0000) >>> 0);
  seg(page, OFF.ss, 0, p.ssAttrib, 0xffff, 0);
  seg(page, OFF.ds, 0, 0x93, 0xffff, 0);
  seg(page, OFF.fs, 0, 0x93, 0xffff, 0);
  page.setBigUint64(OFF.cr0, 0x10n, true);
  page.setBigUint64(OFF.rip, BigInt(eip & 0xffff), true);
  common(page, sevFeatures, p);
  return new Uint8Array(page.buffer);
}

/** A coconut-svsm VMSA (QEMU SVSM launch, sev-snp-measure VMSA_SVSM): 32-bit protected mode at the SVSM entry point. */
export function svsmVmsa({ eip, sevFeatures, profile: p }: VmsaParams): Uint8Array {
  const page = view(new Uint8Array(PAGE_SIZE));
  for (const at of [OFF.es, OFF.ds, OFF.fs]) seg(page, at, 16, 0xc93, 0xffffffff, 0);
  seg(page, OFF.ss, 16, p.ssAttrib, 0xffffffff, 0);
  seg(page, OFF.cs, 8, p.csAttribAp, 0xffffffff, 0);
  page.setBigUint64(OFF.cr0, 0x11n, true);
  page.setBigUint64(OFF.rip, BigInt(eip), true);
  common(page, sevFeatures, p);
  return new Uint8Array(page.buffer);
}
