/**
 * What differs between VMMs in the initial guest state they measure, and the version-dependent quirks
 * as explicit parameters. Defaults reproduce virtee/sev-snp-measure 0.0.13.
 */
import { InputError } from '../../errors.js';

export const VMMS = ['qemu', 'ec2', 'gce'] as const;
export type Vmm = (typeof VMMS)[number];

export interface SnpQuirks {
  /**
   * RDX of EC2 VMSAs: 0x600 since sev-snp-measure 0.0.13 ("Updated EC2 VMSA definition", commit
   * 4a02bf0); EC2 hosts measured with older versions used 0.
   */
  ec2Rdx: number;
  /**
   * x87/SSE reset state in QEMU VMSAs. 'sev-init2': hosts whose QEMU uses KVM_SEV_INIT2 (Linux 6.10+
   * per sev-snp-measure's changelog) measure MXCSR = 0x1f80 and FCW = 0x37f (sev-snp-measure >= 0.0.10,
   * commit ae95e59); 'sev-init': older hosts leave both 0.
   */
  qemuFpu: 'sev-init2' | 'sev-init';
  /**
   * Width of the VMSA page's GPA in PAGE_INFO: 48 bits (0xfffffffff000, sev-snp-measure; Milan) or
   * 52 bits (0xffffffffff000: CPUID Fn8000_0008_EAX on Genoa, as google/gce-tcb-verifier measures GCE).
   */
  vmsaGpaBits: 48 | 52;
}

export const DEFAULT_QUIRKS: Readonly<SnpQuirks> = { ec2Rdx: 0x600, qemuFpu: 'sev-init2', vmsaGpaBits: 48 };

/** Defaults overridden by `quirks`; values outside the documented ones are an InputError. */
export function resolveQuirks(quirks: Partial<SnpQuirks> = {}): SnpQuirks {
  const q = { ...DEFAULT_QUIRKS, ...quirks };
  if (!Number.isSafeInteger(q.ec2Rdx) || q.ec2Rdx < 0) throw new InputError(`quirk ec2Rdx ${q.ec2Rdx} is not a non-negative integer`);
  if (q.qemuFpu !== 'sev-init2' && q.qemuFpu !== 'sev-init') throw new InputError(`quirk qemuFpu ${JSON.stringify(q.qemuFpu)} is not sev-init2 or sev-init`);
  if (q.vmsaGpaBits !== 48 && q.vmsaGpaBits !== 52) throw new InputError(`quirk vmsaGpaBits ${String(q.vmsaGpaBits)} is not 48 or 52`);
  return q;
}

/** Initial register state that depends on the VMM (APM vol 2 Table B-4 fields). */
export interface VmmProfile {
  vmm: Vmm;
  /** VMCB segment attributes of CS (BSP and AP), SS and TR. */
  csAttribBsp: number;
  csAttribAp: number;
  ssAttrib: number;
  trAttrib: number;
  /** PAT MSR (APM vol 2 section A.3 default 0x0007040600070406; GCE writes its own). */
  gPat: bigint;
  /** RDX at reset: the vCPU signature (QEMU) or a fixed value. */
  rdx: number;
  mxcsr: number;
  fcw: number;
  /** EC2 measures the CPUID page after all other metadata pages. */
  cpuidPageLast: boolean;
  /** GCE adds SNP_SEC_MEM as UNMEASURED instead of ZERO pages. */
  secMemUnmeasured: boolean;
}

export const DEFAULT_PAT = 0x0007040600070406n;

export function vmmProfile(vmm: Vmm, vcpuSignature: number | undefined, quirks: SnpQuirks): VmmProfile {
  switch (vmm) {
    case 'qemu': {
      const fpu = quirks.qemuFpu === 'sev-init2';
      return {
        vmm,
        csAttribBsp: 0x9b,
        csAttribAp: 0x9b,
        ssAttrib: 0x93,
        trAttrib: 0x8b,
        gPat: DEFAULT_PAT,
        rdx: vcpuSignature ?? 0,
        mxcsr: fpu ? 0x1f80 : 0,
        fcw: fpu ? 0x37f : 0,
        cpuidPageLast: false,
        secMemUnmeasured: false,
      };
    }
    case 'ec2':
      return {
        vmm,
        csAttribBsp: 0x9a,
        csAttribAp: 0x9b,
        ssAttrib: 0x92,
        trAttrib: 0x83,
        gPat: DEFAULT_PAT,
        rdx: quirks.ec2Rdx,
        mxcsr: 0,
        fcw: 0,
        cpuidPageLast: true,
        secMemUnmeasured: false,
      };
    case 'gce':
      return {
        vmm,
        csAttribBsp: 0x9b,
        csAttribAp: 0x9b,
        ssAttrib: 0x93,
        trAttrib: 0x8b,
        gPat: 0x00070106n,
        rdx: 0x600,
        mxcsr: 0,
        fcw: 0,
        cpuidPageLast: false,
        secMemUnmeasured: true,
      };
  }
}

/**
 * coconut-svsm VMSAs under QEMU (32-bit flat segments). As in sev-snp-measure 0.0.13 the x87 FCW stays
 * 0 (its SVSM save area never sets the field) while MXCSR follows the QEMU FPU quirk.
 */
export function svsmProfile(vcpuSignature: number | undefined, quirks: SnpQuirks): VmmProfile {
  return {
    ...vmmProfile('qemu', vcpuSignature, quirks),
    csAttribBsp: 0xc9b,
    csAttribAp: 0xc9b,
    ssAttrib: 0xc93,
    fcw: 0,
  };
}

/** The VMSA page's GPA: the all-ones page address truncated to the physical address width. */
export function vmsaGpa(quirks: SnpQuirks): number {
  return 2 ** quirks.vmsaGpaBits - 0x1000;
}
