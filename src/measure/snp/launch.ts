/**
 * SEV, SEV-ES and SEV-SNP launch digests of an OVMF guest (the semantics of virtee/sev-snp-measure
 * 0.0.13 guest.py), for any number of vCPU counts in one pass: the firmware and metadata pages are
 * hashed once, then VMSA pages are appended and the digest is read after each requested count.
 */
import { FormatError, InputError } from '../../errors.js';
import {
  OVMF_SEV_METADATA_GUID,
  SEV_ES_RESET_BLOCK_GUID,
  SEV_HASH_TABLE_RV_GUID,
  SVSM_INFO_GUID,
  parseOvmf,
  type OvmfInfo,
  type SevMetadataSection,
} from '../../formats/ovmf.js';
import { LaunchDigest, PAGE_SIZE, PageType, pageDigest } from './gctx.js';
import { sevHashPage, sevHashTable, sevHashes, type DirectBoot, type SevHashes } from './sev-hashes.js';
import { resolveVcpu, type ResolvedVcpu, type VcpuSpec } from './vcpu-types.js';
import { VMMS, resolveQuirks, svsmProfile, vmmProfile, vmsaGpa, type SnpQuirks, type Vmm, type VmmProfile } from './vmm.js';
import { createHasher } from '../../util/hash.js';
import { BSP_EIP, resetVmsa, svsmVmsa } from './vmsa.js';

export const SEV_MODES = ['snp', 'sev-es', 'sev'] as const;
/** What a launch without `mode` / `vmm` measures (reported as an applied default). */
export const DEFAULT_MODE = 'snp';
export const DEFAULT_VMM = 'qemu';
export type SevMode = (typeof SEV_MODES)[number];

/** Firmware ends at 4 GiB (the reset vector's home). */
const FOUR_GIB = 0x1_0000_0000;

export interface SvsmInput {
  /** coconut-svsm flat binary (pre-IGVM), loaded right below the OVMF_VARS area. */
  image: Uint8Array;
  /** Size of the OVMF_VARS flash that sits between the SVSM and OVMF_CODE. */
  varsSize: number;
}

export interface LaunchParams {
  firmware: Uint8Array;
  mode?: SevMode;
  /** vCPU counts to report (default [1]). */
  vcpus?: readonly number[];
  /** Needed for QEMU VMSAs (their RDX); ignored by ec2 and gce, and in SEV mode. */
  vcpu?: VcpuSpec;
  vmm?: Vmm;
  /** SEV_FEATURES of SNP VMSAs (default 0x1). */
  guestFeatures?: bigint;
  /** Measured direct boot (QEMU -kernel/-initrd/-append). */
  directBoot?: DirectBoot;
  svsm?: SvsmInput;
  /** SNP only: the digest after the firmware pages (see snpFirmwareSeed), to skip hashing them. */
  seed?: Uint8Array;
  quirks?: Partial<SnpQuirks>;
}

/** One metadata section as it entered the digest. */
export interface MeasuredSection extends SevMetadataSection {
  pageType: keyof typeof PageType;
}

export interface LaunchResult {
  mode: SevMode;
  vmm: Vmm;
  /** Digest by vCPU count (48 bytes for SNP, 32 for SEV and SEV-ES). */
  digests: Map<number, Uint8Array>;
  /** SNP: digest after the firmware (and SVSM) pages, before metadata and VMSAs. */
  seed: Uint8Array | undefined;
  seedProvided: boolean;
  firmware: OvmfInfo;
  firmwareGpa: number;
  vcpu: ResolvedVcpu | undefined;
  guestFeatures: bigint;
  quirks: SnpQuirks;
  /** Registers and addresses of the measured VMSAs (absent in SEV mode). */
  vmsa: { profile: VmmProfile; gpa: number | undefined; bspEip: number; apEip: number; sevFeatures: bigint; layout: 'reset' | 'svsm' } | undefined;
  /** SNP: metadata sections in measurement order and how each was added. */
  sections: MeasuredSection[];
  sevHashes: SevHashes | undefined;
  svsm: { size: number; gpa: number; info: OvmfInfo } | undefined;
  warnings: string[];
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** SNP adds whole pages below 4 GiB: the image size must be a non-zero multiple of 4 KiB. */
function checkPages(image: Uint8Array, what: string): void {
  if (image.length === 0) throw new InputError(`${what} is empty`);
  if (image.length % PAGE_SIZE !== 0) throw new InputError(`${what} size ${image.length} is not a multiple of 4 KiB (SNP measures whole pages)`);
  if (image.length > FOUR_GIB) throw new InputError(`${what} is larger than 4 GiB`);
}

function checkCounts(counts: readonly number[]): number[] {
  const sorted = [...new Set(counts)].sort((a, b) => a - b);
  if (sorted.length === 0) throw new InputError('no vCPU count given');
  for (const n of sorted) if (!Number.isSafeInteger(n) || n < 1) throw new InputError(`vCPU count ${n} is not a positive integer`);
  return sorted;
}

/**
 * SNP launch digest after the firmware pages only (sev-snp-measure `--mode snp:ovmf-hash`): OVMF as
 * NORMAL pages ending at 4 GiB, then (SVSM launches) the SVSM image ending below OVMF_VARS.
 */
export function snpFirmwareSeed(firmware: Uint8Array, svsm?: SvsmInput): Uint8Array {
  checkPages(firmware, 'firmware');
  const gctx = new LaunchDigest();
  gctx.updateNormalPages(FOUR_GIB - firmware.length, firmware);
  if (svsm) {
    checkPages(svsm.image, 'SVSM image');
    gctx.updateNormalPages(svsmGpa(firmware, svsm), svsm.image);
  }
  return gctx.digest();
}

function svsmGpa(firmware: Uint8Array, svsm: SvsmInput): number {
  if (!Number.isSafeInteger(svsm.varsSize) || svsm.varsSize < 0) throw new InputError(`OVMF_VARS size ${svsm.varsSize} is not a non-negative integer`);
  const gpa = FOUR_GIB - firmware.length - svsm.varsSize - svsm.image.length;
  if (gpa < 0 || gpa % PAGE_SIZE !== 0)
    throw new InputError(`SVSM image would load at ${gpa < 0 ? `-${hex(-gpa)}` : hex(gpa)}: not a page-aligned address below the firmware`);
  return gpa;
}

/** The SVSM image carries an OVMF-style footer table and SEV metadata; errors name the SVSM image. */
function parseSvsm(image: Uint8Array): OvmfInfo {
  try {
    return parseOvmf(image);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(`SVSM image ${e.what}`, e.message.slice(e.what.length + 2));
    throw e;
  }
}

/**
 * SNP (or SEV / SEV-ES) launch digests for all requested vCPU counts in one pass: the firmware (and
 * SVSM) pages per its SEV metadata, the SEV hash table of a measured direct boot, then one VMSA page per
 * vCPU (AMD SEV-SNP ABI §8.17 SNP_LAUNCH_UPDATE, PAGE_INFO).
 * @throws InputError when the parameters are inconsistent (unknown mode or VMM, no vCPU count, SVSM or
 *   direct boot where they do not apply, no vCPU type for QEMU SEV-ES/SNP) or the firmware cannot be
 *   launched that way (not whole pages, no SEV-ES reset block, no SNP_KERNEL_HASHES page for a kernel).
 * @throws FormatError when the firmware's footer table or SEV metadata is malformed.
 */
export function snpLaunchDigests(p: LaunchParams): LaunchResult {
  const mode = p.mode ?? DEFAULT_MODE;
  const vmm = p.vmm ?? DEFAULT_VMM;
  if (!SEV_MODES.includes(mode)) throw new InputError(`unknown SEV mode ${JSON.stringify(mode)} (expected one of ${SEV_MODES.join(', ')})`);
  if (!VMMS.includes(vmm)) throw new InputError(`unknown VMM ${JSON.stringify(vmm)} (expected one of ${VMMS.join(', ')})`);
  const quirks = resolveQuirks(p.quirks);
  const counts = checkCounts(p.vcpus ?? [1]);
  const guestFeatures = p.guestFeatures ?? 1n;
  if (guestFeatures < 0n || guestFeatures >= 1n << 64n) throw new InputError(`guest features ${guestFeatures} do not fit in 64 bits`);
  if (mode !== 'snp' && p.seed) throw new InputError(`a seed (precomputed firmware digest) applies to SNP only, not ${mode}`);
  if (mode !== 'snp' && p.svsm) throw new InputError(`SVSM launches are SNP only, not ${mode}`);
  if (p.svsm && vmm !== 'qemu') throw new InputError(`SVSM launches are only defined for the qemu VMM, not ${vmm} (as sev-snp-measure)`);
  if (p.svsm && p.directBoot) throw new InputError('measured direct boot (kernel/initrd/cmdline) is not supported with an SVSM');
  if (p.svsm && guestFeatures !== 1n)
    throw new InputError(
      `SVSM VMSAs use SEV_FEATURES 0x1 (sev-snp-measure 0.0.13); guest features 0x${guestFeatures.toString(16)} are not supported with an SVSM`,
    );

  const firmware = parseOvmf(p.firmware);
  const hasBoot = p.directBoot && (p.directBoot.kernelSha256 || p.directBoot.initrdSha256 || p.directBoot.cmdline !== undefined);
  const hashes = hasBoot ? sevHashes(p.directBoot!) : undefined;
  const needsVcpu = mode !== 'sev' && vmm === 'qemu';
  if (needsVcpu && !p.vcpu) throw new InputError(`QEMU ${mode} VMSAs carry the vCPU signature: give a vCPU type, signature or family/model/stepping`);
  const vcpu = mode !== 'sev' && p.vcpu ? resolveVcpu(p.vcpu) : undefined;
  const base = {
    mode,
    vmm,
    firmware,
    firmwareGpa: FOUR_GIB - p.firmware.length,
    vcpu,
    quirks,
    sevHashes: hashes,
    seedProvided: Boolean(p.seed),
    warnings: [] as string[],
  };
  if (mode === 'snp') return { ...base, ...snp(p, firmware, counts, vcpu, guestFeatures, quirks, hashes, base.warnings), guestFeatures };
  return { ...base, ...sevOrEs(p, mode, firmware, counts, vcpu, quirks, hashes), guestFeatures: 0n, seed: undefined, sections: [], svsm: undefined };
}

/** One digest: `vcpus` defaults to 1. */
export function snpLaunchDigest(p: Omit<LaunchParams, 'vcpus'> & { vcpus?: number }): Uint8Array {
  const n = p.vcpus ?? 1;
  return snpLaunchDigests({ ...p, vcpus: [n] }).digests.get(n)!;
}

function resetEip(info: OvmfInfo, what: string): number {
  if (info.sevEsResetEip === undefined)
    throw new InputError(`${what} has no SEV-ES reset block (footer entry ${SEV_ES_RESET_BLOCK_GUID}): cannot build the VMSAs`);
  return info.sevEsResetEip;
}

/** SEV and SEV-ES: LAUNCH_UPDATE_DATA is one SHA-256 over the firmware, the hash table, then (SEV-ES) the VMSAs. */
function sevOrEs(
  p: LaunchParams,
  mode: 'sev' | 'sev-es',
  info: OvmfInfo,
  counts: number[],
  vcpu: ResolvedVcpu | undefined,
  quirks: SnpQuirks,
  hashes: SevHashes | undefined,
) {
  const h = createHasher('sha256').update(p.firmware);
  if (hashes) {
    if (!info.sevHashTable || info.sevHashTable.gpa === 0) {
      throw new InputError(
        `a kernel was given but the firmware does not support measured direct boot: no SEV hash table (footer entry ${SEV_HASH_TABLE_RV_GUID} missing or at GPA 0)`,
      );
    }
    h.update(sevHashTable(hashes));
  }
  const digests = new Map<number, Uint8Array>();
  if (mode === 'sev') {
    const d = h.digest();
    for (const n of counts) digests.set(n, d);
    return { digests, vmsa: undefined };
  }
  const apEip = resetEip(info, 'firmware');
  const profile = vmmProfile(p.vmm ?? 'qemu', vcpu?.signature, quirks);
  const { bsp, ap } = vmsaPages(profile, apEip, 0n, counts);
  const wanted = new Set(counts);
  for (let n = 1; n <= counts[counts.length - 1]!; n++) {
    h.update(n === 1 ? bsp : ap!);
    if (wanted.has(n)) digests.set(n, h.copy().digest());
  }
  return { digests, vmsa: { profile, gpa: undefined, bspEip: BSP_EIP, apEip, sevFeatures: 0n, layout: 'reset' as const } };
}

function vmsaPages(profile: VmmProfile, apEip: number, sevFeatures: bigint, counts: number[]): { bsp: Uint8Array; ap: Uint8Array | undefined } {
  const bsp = resetVmsa({ eip: BSP_EIP, sevFeatures, profile });
  if (apEip === 0 && counts[counts.length - 1]! > 1)
    throw new InputError('the firmware SEV-ES reset block has AP reset address 0: cannot start more than one vCPU');
  return { bsp, ap: apEip === 0 ? undefined : resetVmsa({ eip: apEip, sevFeatures, profile }) };
}

function snp(
  p: LaunchParams,
  firmware: OvmfInfo,
  counts: number[],
  vcpu: ResolvedVcpu | undefined,
  guestFeatures: bigint,
  quirks: SnpQuirks,
  hashes: SevHashes | undefined,
  warnings: string[],
) {
  checkPages(p.firmware, 'firmware');
  let svsm: LaunchResult['svsm'];
  if (p.svsm) {
    checkPages(p.svsm.image, 'SVSM image');
    svsm = { size: p.svsm.image.length, gpa: svsmGpa(p.firmware, p.svsm), info: parseSvsm(p.svsm.image) };
  }
  // The SVSM image's own metadata replaces OVMF's (sev-snp-measure svsm_calc_launch_digest).
  const source = svsm ? svsm.info : firmware;
  const sourceName = svsm ? 'SVSM image' : 'firmware';
  const metadata = source.sevMetadata?.sections ?? [];
  if (!source.sevMetadata) {
    warnings.push(
      `${sourceName} has NO SEV metadata (footer entry ${OVMF_SEV_METADATA_GUID}): only its pages and the VMSAs are measured; ` +
        'an SNP-capable OVMF (e.g. OVMF.fd or AmdSevX64) declares its secrets, CPUID and pre-validated pages there, so this digest will not match a real SNP launch',
    );
  }
  if (hashes && !metadata.some((s) => s.type === 'SNP_KERNEL_HASHES')) {
    throw new InputError(`a kernel was given but the firmware SEV metadata has no SNP_KERNEL_HASHES section (not an AmdSev build with measured direct boot)`);
  }
  let apEip: number;
  if (svsm) {
    if (svsm.info.svsmEntryOffset === undefined) throw new InputError(`SVSM image has no SVSM_INFO footer entry (${SVSM_INFO_GUID})`);
    apEip = svsm.gpa + svsm.info.svsmEntryOffset;
  } else {
    apEip = resetEip(firmware, 'firmware');
  }

  const gctx = new LaunchDigest(p.seed ?? snpFirmwareSeed(p.firmware, p.svsm));
  const seed = gctx.digest();
  const profile = svsm ? svsmProfile(vcpu?.signature, quirks) : vmmProfile(p.vmm ?? 'qemu', vcpu?.signature, quirks);
  const sections = measureSections(gctx, metadata, profile, firmware, hashes);

  const gpa = vmsaGpa(quirks);
  const digests = new Map<number, Uint8Array>();
  let bsp: Uint8Array;
  let ap: Uint8Array | undefined;
  if (svsm) {
    bsp = ap = svsmVmsa({ eip: apEip, sevFeatures: 1n, profile });
  } else {
    ({ bsp, ap } = vmsaPages(profile, apEip, guestFeatures, counts));
  }
  const bspDigest = pageDigest(bsp);
  const apDigest = ap && pageDigest(ap);
  const wanted = new Set(counts);
  for (let n = 1; n <= counts[counts.length - 1]!; n++) {
    gctx.update(PageType.VMSA, gpa, n === 1 ? bspDigest : apDigest);
    if (wanted.has(n)) digests.set(n, gctx.digest());
  }
  const vmsa = {
    profile,
    gpa,
    bspEip: svsm ? apEip : BSP_EIP,
    apEip,
    sevFeatures: svsm ? 1n : guestFeatures,
    layout: svsm ? ('svsm' as const) : ('reset' as const),
  };
  return { digests, seed, sections, vmsa, svsm };
}

/** sev-snp-measure snp_update_metadata_pages: each SEV metadata section by type; EC2 adds the CPUID page last. */
function measureSections(
  gctx: LaunchDigest,
  metadata: SevMetadataSection[],
  profile: VmmProfile,
  firmware: OvmfInfo,
  hashes: SevHashes | undefined,
): MeasuredSection[] {
  const out: MeasuredSection[] = [];
  const add = (s: SevMetadataSection, pageType: MeasuredSection['pageType']) => {
    out.push({ ...s, pageType });
    if (pageType !== 'NORMAL') gctx.updateEmptyPages(PageType[pageType], s.gpa, pageType === 'SECRETS' || pageType === 'CPUID' ? PAGE_SIZE : s.size);
  };
  for (const s of metadata) {
    switch (s.type) {
      case 'SNP_SEC_MEM':
        add(s, profile.secMemUnmeasured ? 'UNMEASURED' : 'ZERO');
        break;
      case 'SNP_SECRETS':
        add(s, 'SECRETS');
        break;
      case 'CPUID':
        if (!profile.cpuidPageLast) add(s, 'CPUID');
        break;
      case 'SVSM_CAA':
        add(s, 'ZERO');
        break;
      case 'SNP_KERNEL_HASHES':
        if (hashes) {
          out.push({ ...s, pageType: 'NORMAL' });
          gctx.updateNormalPages(s.gpa, kernelHashesPage(s, firmware, hashes));
        } else {
          add(s, 'ZERO');
        }
        break;
    }
  }
  if (profile.cpuidPageLast) for (const s of metadata) if (s.type === 'CPUID') add(s, 'CPUID');
  return out;
}

function kernelHashesPage(s: SevMetadataSection, firmware: OvmfInfo, hashes: SevHashes): Uint8Array {
  if (!firmware.sevHashTable) throw new InputError(`firmware has an SNP_KERNEL_HASHES section but no SEV hash table footer entry (${SEV_HASH_TABLE_RV_GUID})`);
  if (s.size !== PAGE_SIZE)
    throw new InputError(`SNP_KERNEL_HASHES section at ${hex(s.gpa)} is ${hex(s.size)} bytes; the hash table page must be exactly 4 KiB`);
  return sevHashPage(hashes, firmware.sevHashTable.gpa & (PAGE_SIZE - 1));
}
