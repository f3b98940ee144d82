/**
 * Why does an SNP MEASUREMENT differ from the release's launch digests? Recomputes digests from the
 * release's own firmware (and its signed direct-boot hashes) over the knobs a host changes —
 * vCPU count 1–512, VMM, vCPU type, each SEV_FEATURES bit — nearest first: the signed parameters with
 * only the vCPU count free, then one more knob changed, then two. Names what differs from the release.
 */
import { snpLaunchDigests } from '../measure/snp/launch.js';
import { resolveVcpu, VCPU_TYPES } from '../measure/snp/vcpu-types.js';
import { type SnpQuirks, type Vmm as SnpVmm, VMMS } from '../measure/snp/vmm.js';
import type { SnpValues } from '../manifest/model.js';
import { fromHex, toHex } from '../util/bytes.js';

/** SEV_FEATURES bits (AMD64 APM vol. 2, Table 15-36 "SEV_FEATURES"): what a host switches on or off. */
export const SEV_FEATURE_BITS: Readonly<Record<number, string>> = {
  0: 'SNPActive',
  1: 'vTOM',
  2: 'ReflectVC',
  3: 'RestrictedInjection',
  4: 'AlternateInjection',
  5: 'debug_swap',
  6: 'PreventHostIBS',
  7: 'BTBIsolation',
  8: 'VmplSSS',
  9: 'SecureTSC',
  10: 'VmgexitParameter',
  12: 'IbsVirtualization',
  14: 'VmsaRegProt',
  15: 'SmtProtection',
};

export interface SnpKnobs {
  vmm: SnpVmm;
  vcpuType?: string;
  guestFeatures: bigint;
  vcpus: number;
}

export interface SnpDiagnosis {
  /** The knobs that reproduce the MEASUREMENT, or null when nothing searched does. */
  found: SnpKnobs | null;
  /** Human-readable differences from the release ("vCPUs: 6, the release has 1, 2, 4, 8"). */
  differences: string[];
  searched: string;
}

const featureNames = (f: bigint) =>
  Object.entries(SEV_FEATURE_BITS)
    .filter(([b]) => (f >> BigInt(b)) & 1n)
    .map(([, n]) => n);

/** One representative QEMU model per distinct CPUID signature (the VMSA carries only the signature), by signature. */
function vcpuSignatures(): Map<number, string> {
  const seen = new Map<number, string>();
  for (const t of VCPU_TYPES) {
    const { signature } = resolveVcpu({ type: t });
    if (!seen.has(signature)) seen.set(signature, t);
  }
  return seen;
}

/**
 * Searches for the knobs behind `measurement` (96 hex digits) given the release entry and its firmware.
 * `firmware` must be the release's (its sha256 is in `entry.inputs.firmware`; the caller checks it).
 */
export function diagnoseSnp(measurement: string, entry: SnpValues, firmware: Uint8Array, o: { maxVcpus?: number } = {}): SnpDiagnosis {
  const p = entry.parameters;
  const max = o.maxVcpus ?? 512;
  const counts = Array.from({ length: max }, (_, i) => i + 1);
  const base: Omit<SnpKnobs, 'vcpus'> = {
    vmm: (p.vmm as SnpVmm | undefined) ?? 'qemu',
    guestFeatures: BigInt(String(p.guestFeatures ?? '0x1')),
    ...(typeof p['vcpu.type'] === 'string' ? { vcpuType: p['vcpu.type'] } : {}),
  };
  const directBoot =
    typeof p['directBoot.kernelSha256'] === 'string'
      ? {
          kernelSha256: fromHex(String(p['directBoot.kernelSha256']), 'kernel hash'),
          initrdSha256: fromHex(String(p['directBoot.initrdSha256']), 'initrd hash'),
          ...(typeof p['directBoot.cmdline'] === 'string' ? { cmdline: p['directBoot.cmdline'] } : {}),
        }
      : undefined;
  const quirks: Partial<SnpQuirks> = {
    ...(typeof p['quirks.ec2Rdx'] === 'string' ? { ec2Rdx: Number(p['quirks.ec2Rdx']) } : {}),
    ...(p['quirks.qemuFpu'] === 'sev-init' || p['quirks.qemuFpu'] === 'sev-init2' ? { qemuFpu: p['quirks.qemuFpu'] as SnpQuirks['qemuFpu'] } : {}),
    ...(p['quirks.vmsaGpaBits'] === 48 || p['quirks.vmsaGpaBits'] === 52 ? { vmsaGpaBits: p['quirks.vmsaGpaBits'] as SnpQuirks['vmsaGpaBits'] } : {}),
  };
  // nearest first: 0, 1 then 2 knobs changed besides the vCPU count
  const vmms = VMMS.filter((v) => v !== base.vmm);
  const signatures = vcpuSignatures();
  const baseSignature = base.vcpuType ? resolveVcpu({ type: base.vcpuType }).signature : -1;
  const types = [...signatures].filter(([signature]) => signature !== baseSignature).map(([, t]) => t);
  const features = Object.keys(SEV_FEATURE_BITS)
    .map((b) => base.guestFeatures ^ (1n << BigInt(b)))
    .filter((f) => f & 1n);
  const one: Omit<SnpKnobs, 'vcpus'>[] = [
    ...vmms.map((vmm) => ({ ...base, vmm })),
    ...types.map((vcpuType) => ({ ...base, vcpuType })),
    ...features.map((guestFeatures) => ({ ...base, guestFeatures })),
  ];
  const two: Omit<SnpKnobs, 'vcpus'>[] = [
    ...vmms.flatMap((vmm) => features.map((guestFeatures) => ({ ...base, vmm, guestFeatures }))),
    ...types.flatMap((vcpuType) => features.map((guestFeatures) => ({ ...base, vcpuType, guestFeatures }))),
  ];
  let tried = 0;
  for (const k of [base, ...one, ...two]) {
    if (k.vmm !== 'qemu' && k.vcpuType !== base.vcpuType) continue; // only QEMU VMSAs carry the vCPU signature
    tried++;
    const r = snpLaunchDigests({
      firmware,
      vmm: k.vmm,
      vcpus: counts,
      guestFeatures: k.guestFeatures,
      ...(k.vcpuType ? { vcpu: { type: k.vcpuType } } : {}),
      ...(directBoot ? { directBoot } : {}),
      quirks,
      ...(entry.seed && typeof entry.seed === 'string' ? { seed: fromHex(entry.seed, 'seed') } : {}),
    });
    const hit = [...r.digests].find(([, d]) => toHex(d) === measurement);
    if (hit) {
      const found = { ...k, vcpus: hit[0] };
      return { found, differences: differences(found, base, entry), searched: `${tried} knob combinations × vCPUs 1–${max}` };
    }
  }
  return {
    found: null,
    differences: [],
    searched: `${tried} knob combinations (VMMs ${VMMS.join(', ')}; ${signatures.size} vCPU signatures; SEV_FEATURES ${Object.values(SEV_FEATURE_BITS).length} single bits) × vCPUs 1–${max}; none gives ${measurement.slice(0, 16)}…`,
  };
}

function differences(found: SnpKnobs, base: Omit<SnpKnobs, 'vcpus'>, entry: SnpValues): string[] {
  const out: string[] = [];
  const released = Object.keys(entry.launchDigests)
    .map(Number)
    .sort((a, b) => a - b);
  if (!released.includes(found.vcpus)) out.push(`vCPUs: ${found.vcpus}; the release has ${released.join(', ')}`);
  if (found.vmm !== base.vmm) out.push(`VMM: ${found.vmm}; the release is for ${base.vmm}`);
  if (found.vcpuType !== base.vcpuType)
    out.push(
      `vCPU type: ${found.vcpuType} (signature 0x${resolveVcpu({ type: found.vcpuType! }).signature.toString(16)}); the release is for ${base.vcpuType}`,
    );
  if (found.guestFeatures !== base.guestFeatures) {
    const on = featureNames(found.guestFeatures & ~base.guestFeatures);
    const off = featureNames(base.guestFeatures & ~found.guestFeatures);
    out.push(
      `guest features: 0x${found.guestFeatures.toString(16)}; the release has 0x${base.guestFeatures.toString(16)} (${[...on.map((n) => `${n} is on`), ...off.map((n) => `${n} is off`)].join(', ')})`,
    );
  }
  return out;
}
