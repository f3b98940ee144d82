/**
 * The `measure snp --json` object (schemas/snp-measurement.schema.json): launch digests by vCPU count
 * plus every resolved parameter that entered them. Pure: input bytes and names + parameters → object.
 */
import { describeOvmf, parseOvmf } from '../../formats/ovmf.js';
import { toHex } from '../../util/bytes.js';
import { appliedDefaults, sha256Hex, type AppliedDefaults, type DirectBootFiles, type NamedBytes } from '../input.js';
import { snpFirmwareSeed, snpLaunchDigests, type LaunchParams, type SevMode } from './launch.js';
import { sha256 } from './sev-hashes.js';
import type { Vmm } from './vmm.js';

/** kernel/initrd/cmdline: measured direct boot (the SEV hash table). */
export interface SnpMeasurementInputs extends DirectBootFiles {
  firmware: NamedBytes;
  /** coconut-svsm flat binary and the size of the OVMF_VARS flash between it and OVMF. */
  svsm?: NamedBytes & { varsSize: number };
}

export type SnpMeasurementParams = Omit<LaunchParams, 'firmware' | 'directBoot' | 'svsm'> & {
  /** Guest policy (SNP_LAUNCH_START POLICY, AMD SEV-SNP ABI Table 9): not in the digest, recorded as a reference value. */
  policy?: bigint;
};

type Hex = string;
export type SnpFirmwareJson = ReturnType<typeof describeOvmf> & { path: string; sha256: string; gpa?: Hex };

export interface SnpMeasurementJson {
  kind: 'snp';
  origin: 'predicted';
  mode: SevMode;
  vmm: Vmm;
  digests: Record<string, string>;
  vcpu: { type: string | null; signature: Hex } | null;
  guestFeatures: Hex | null;
  /** Guest policy the launch must use, when given. */
  policy: Hex | null;
  quirks: { ec2Rdx: Hex; qemuFpu: string; vmsaGpaBits: number };
  vmsa: {
    layout: 'reset' | 'svsm';
    gpa: Hex | null;
    bspEip: Hex;
    apEip: Hex;
    sevFeatures: Hex;
    rdx: Hex;
    mxcsr: Hex;
    fcw: Hex;
    gPat: Hex;
    csAttrib: { bsp: Hex; ap: Hex };
    ssAttrib: Hex;
    trAttrib: Hex;
  } | null;
  measuredSections: { type: string; gpa: Hex; size: Hex; pageType: string }[];
  firmware: SnpFirmwareJson;
  directBoot: {
    kernel: string | null;
    initrd: string | null;
    cmdline: string | null;
    kernelSha256: string;
    initrdSha256: string;
    cmdlineSha256: string;
  } | null;
  svsm: { path: string; size: number; gpa: Hex; varsSize: number; entryEip: Hex; sevMetadata: ReturnType<typeof describeOvmf>['sevMetadata'] } | null;
  seed: string | null;
  seedProvided: boolean;
  /** Problems that do not stop the measurement (e.g. firmware without SEV metadata); callers show them. */
  warnings: string[];
  /** Parameters not given that entered the digest with their default value (mode, vmm, vcpus, guestFeatures, quirks.*). */
  defaults: AppliedDefaults;
  reference: string;
}

/** `--print-seed`: the SNP digest after the firmware (and SVSM) pages only. */
export interface SnpSeedJson {
  kind: 'snp';
  origin: 'predicted';
  mode: 'snp';
  digests: Record<string, never>;
  seed: string;
  firmware: SnpFirmwareJson;
  warnings: string[];
}

const h = (n: number | bigint) => `0x${n.toString(16)}`;

function firmwareJson(f: NamedBytes, info: ReturnType<typeof parseOvmf>): SnpFirmwareJson {
  return { path: f.name, sha256: sha256Hex(f.bytes), ...describeOvmf(info) };
}

/**
 * `measure snp --print-seed`: the SNP launch digest after the firmware (and SVSM) pages only, the
 * seed a VMM-specific digest continues from.
 * @throws InputError when the image is not whole pages or larger than 4 GiB.
 * @throws FormatError for a malformed firmware image.
 */
export function snpSeedMeasurement(inputs: Pick<SnpMeasurementInputs, 'firmware' | 'svsm'>): SnpSeedJson {
  const seed = snpFirmwareSeed(inputs.firmware.bytes, inputs.svsm && { image: inputs.svsm.bytes, varsSize: inputs.svsm.varsSize });
  return {
    kind: 'snp',
    origin: 'predicted',
    mode: 'snp',
    digests: {},
    seed: toHex(seed),
    firmware: firmwareJson(inputs.firmware, parseOvmf(inputs.firmware.bytes)),
    warnings: [],
  };
}

/**
 * `measure snp`'s measurement: the launch digests for every requested vCPU count, the firmware and
 * direct-boot inputs they cover, and every default the caller left to the library (`defaults`).
 * @throws InputError for inconsistent parameters (see snpLaunchDigests).
 * @throws FormatError for a malformed firmware image.
 */
export function snpMeasurement(inputs: SnpMeasurementInputs, params: SnpMeasurementParams = {}): SnpMeasurementJson {
  const { firmware, kernel, initrd, cmdline, svsm } = inputs;
  const directBoot =
    kernel || initrd || cmdline !== undefined
      ? { kernelSha256: kernel && sha256(kernel.bytes), initrdSha256: initrd && sha256(initrd.bytes), cmdline }
      : undefined;
  const { policy: _policy, ...launch } = params;
  const r = snpLaunchDigests({ ...launch, firmware: firmware.bytes, directBoot, svsm: svsm && { image: svsm.bytes, varsSize: svsm.varsSize } });
  const p = r.vmsa?.profile;
  const q = params.quirks ?? {};
  const defaults = appliedDefaults(
    {
      mode: params.mode,
      vmm: params.vmm,
      vcpus: params.vcpus,
      guestFeatures: params.guestFeatures,
      'quirks.ec2Rdx': q.ec2Rdx,
      'quirks.qemuFpu': q.qemuFpu,
      'quirks.vmsaGpaBits': q.vmsaGpaBits,
    },
    {
      mode: r.mode,
      ...(svsm ? {} : { vmm: r.vmm }),
      ...(r.mode === 'sev' ? {} : { vcpus: [...r.digests.keys()].join(',') }),
      ...(r.mode === 'snp' && !svsm ? { guestFeatures: h(r.guestFeatures), 'quirks.vmsaGpaBits': r.quirks.vmsaGpaBits } : {}),
      ...(r.mode !== 'sev' && r.vmm === 'ec2' ? { 'quirks.ec2Rdx': h(r.quirks.ec2Rdx) } : {}),
      ...(r.mode !== 'sev' && r.vmm === 'qemu' ? { 'quirks.qemuFpu': r.quirks.qemuFpu } : {}),
    },
  );
  return {
    kind: 'snp',
    origin: 'predicted',
    mode: r.mode,
    vmm: r.vmm,
    digests: Object.fromEntries([...r.digests].map(([n, d]) => [String(n), toHex(d)])),
    vcpu: r.vcpu ? { type: r.vcpu.type ?? null, signature: h(r.vcpu.signature) } : null,
    guestFeatures: r.mode === 'snp' ? h(r.guestFeatures) : null,
    policy: params.policy === undefined ? null : h(params.policy),
    quirks: { ec2Rdx: h(r.quirks.ec2Rdx), qemuFpu: r.quirks.qemuFpu, vmsaGpaBits: r.quirks.vmsaGpaBits },
    vmsa:
      r.vmsa && p
        ? {
            layout: r.vmsa.layout,
            gpa: r.vmsa.gpa === undefined ? null : h(r.vmsa.gpa),
            bspEip: h(r.vmsa.bspEip),
            apEip: h(r.vmsa.apEip),
            sevFeatures: h(r.vmsa.sevFeatures),
            rdx: h(p.rdx),
            mxcsr: h(p.mxcsr),
            fcw: h(p.fcw),
            gPat: h(p.gPat),
            csAttrib: { bsp: h(p.csAttribBsp), ap: h(p.csAttribAp) },
            ssAttrib: h(p.ssAttrib),
            trAttrib: h(p.trAttrib),
          }
        : null,
    measuredSections: r.sections.map((s) => ({ type: s.type, gpa: h(s.gpa), size: h(s.size), pageType: s.pageType })),
    firmware: { ...firmwareJson(firmware, r.firmware), gpa: h(r.firmwareGpa) },
    directBoot: r.sevHashes
      ? {
          kernel: kernel?.name ?? null,
          initrd: initrd?.name ?? null,
          cmdline: cmdline ?? null,
          kernelSha256: toHex(r.sevHashes.kernel),
          initrdSha256: toHex(r.sevHashes.initrd),
          cmdlineSha256: toHex(r.sevHashes.cmdline),
        }
      : null,
    svsm:
      r.svsm && svsm
        ? {
            path: svsm.name,
            size: r.svsm.size,
            gpa: h(r.svsm.gpa),
            varsSize: svsm.varsSize,
            entryEip: h(r.vmsa!.apEip),
            sevMetadata: describeOvmf(r.svsm.info).sevMetadata,
          }
        : null,
    seed: r.seed ? toHex(r.seed) : null,
    seedProvided: r.seedProvided,
    warnings: r.warnings,
    defaults,
    reference: 'virtee/sev-snp-measure 0.0.13',
  };
}
