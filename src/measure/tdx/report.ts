/**
 * The `kind: "tdx"` reports. `measure tdx --json` (schemas/tdx-measure.schema.json): MRTD and the TDVF
 * sections that entered it and, for a QEMU direct kernel boot, RTMR1/RTMR2 and their events.
 * `measure td-shim-payload --json` (schemas/tdx-td-shim-payload.schema.json): td-shim reference values.
 * Pure: bytes + names + parameters → object.
 */
import { InputError } from '../../errors.js';
import { toHex } from '../../util/bytes.js';
import { appliedDefaults, sha256Hex, type AppliedDefaults, type DirectBootFiles, type NamedBytes } from '../input.js';
import { sectionPages, tdxMrtd, type PageOrder } from './mrtd.js';
import { qemuPatchesSetupHeader, RTMR0_DEPENDS_ON, rtmrEvent, tdxDirectBootRtmrs, type RtmrEvent } from './rtmr.js';
import { RTMR0_STATUS, tdxRtmr0, type QemuFwCfg, type TdvfEventLayout } from './rtmr0.js';
import { TD_SHIM_KERNEL_SIZE, TD_SHIM_PARAM_SIZE, tdShimParamHash, tdShimPayloadHash, teeInfoHash, type TeeInfoManifest } from './td-shim.js';

/** A kernel (bzImage) adds RTMR1 and RTMR2 of the direct boot. */
export interface TdxMeasurementInputs extends DirectBootFiles {
  /** TDVF image: combined OVMF.fd or a td-shim image. */
  firmware: NamedBytes;
  /** What the VMM serves the firmware (a `capture qemu` platform.json): adds RTMR0. */
  platform?: { name: string; sha256: string; qemuVersion: string; fwCfg: QemuFwCfg };
}

export interface TdxMeasurementParams {
  /** Default `single`. */
  pageOrder?: PageOrder;
  /** Guest RAM (QEMU -m) in MiB, default 2048: QEMU writes the initrd address derived from it into the setup header. */
  memMiB?: number;
  /** QEMU version of the host, default 9.2 (see qemuPatchesSetupHeader). */
  qemuVersion?: string;
  /** TDVF event sequence for RTMR0 (with a platform), default `legacy`. */
  tdvfEvents?: TdvfEventLayout;
}

/** RTMR0: computed from a platform capture (a model, marked so), or what it would depend on. */
export type Rtmr0Json =
  | { computed: false; dependsOn: readonly string[] }
  | {
      computed: true;
      value: string;
      status: typeof RTMR0_STATUS;
      tdvfEvents: TdvfEventLayout;
      platform: { path: string; sha256: string; qemuVersion: string };
      ram: { address: string; length: string; accepted: boolean }[];
      events: RtmrEvent[];
    };

export interface TdxMeasurementJson {
  kind: 'tdx';
  origin: 'predicted';
  mrtd: string;
  pageOrder: PageOrder;
  firmware: { path: string; size: number; sha256: string; metadata: 'ovmf-footer' | 'td-shim'; descriptorOffset: number };
  sections: {
    index: number;
    type: string;
    dataOffset: number;
    rawDataSize: number;
    memoryAddress: string;
    memoryDataSize: number;
    attributes: string[];
    added: number;
    extended: number;
  }[];
  rtmr?: { '1': string; '2': string };
  boot?: { shape: 'direct'; qemuVersion: string; setupHeaderPatched: boolean; memMiB: number; measuredCmdline: string };
  events?: RtmrEvent[];
  rtmr0: Rtmr0Json;
  /** Parameters not given that entered MRTD or the RTMRs with their default value (pageOrder; with a kernel memMiB, qemuVersion; with a platform tdvfEvents). */
  defaults: AppliedDefaults;
}

/**
 * `measure tdx`'s measurement: MRTD of the TDVF (or td-shim) image, RTMR1/RTMR2 of a direct kernel boot,
 * RTMR0 from a captured platform (a model), and every default the caller left to the library.
 * @throws InputError or FormatError from the firmware's TDVF metadata, the kernel or the platform.
 */
export function tdxMeasurement(inputs: TdxMeasurementInputs, params: TdxMeasurementParams = {}): TdxMeasurementJson {
  const { firmware, kernel } = inputs;
  if (!kernel && (inputs.initrd || inputs.cmdline !== undefined))
    throw new InputError(`${inputs.initrd ? 'an initrd' : 'a command line'} is measured only with a kernel`);
  const pageOrder = params.pageOrder ?? 'single';
  const { mrtd, metadata } = tdxMrtd(firmware.bytes, pageOrder);
  const boot = kernel ? directBoot(kernel, inputs, params) : undefined;
  const tdvfEvents = params.tdvfEvents ?? 'legacy';
  return {
    kind: 'tdx',
    origin: 'predicted',
    mrtd: toHex(mrtd),
    pageOrder,
    firmware: {
      path: firmware.name,
      size: firmware.bytes.length,
      sha256: sha256Hex(firmware.bytes),
      metadata: metadata.locator,
      descriptorOffset: metadata.descriptorOffset,
    },
    sections: metadata.sections.map((s) => ({
      index: s.index,
      type: s.type,
      dataOffset: s.dataOffset,
      rawDataSize: s.rawDataSize,
      memoryAddress: `0x${s.memoryAddress.toString(16)}`,
      memoryDataSize: s.memoryDataSize,
      attributes: [...(s.mrExtend ? ['MR.EXTEND'] : []), ...(s.pageAug ? ['PAGE.AUG'] : [])],
      ...sectionPages(s),
    })),
    ...(boot ?? {}),
    rtmr0: inputs.platform ? rtmr0(firmware.bytes, inputs.platform, tdvfEvents) : { computed: false, dependsOn: RTMR0_DEPENDS_ON },
    defaults: appliedDefaults(
      { pageOrder: params.pageOrder, memMiB: params.memMiB, qemuVersion: params.qemuVersion, tdvfEvents: params.tdvfEvents },
      {
        pageOrder,
        ...(boot ? { memMiB: boot.boot!.memMiB, qemuVersion: boot.boot!.qemuVersion } : {}),
        ...(inputs.platform ? { tdvfEvents } : {}),
      },
    ),
  };
}

function rtmr0(firmware: Uint8Array, platform: NonNullable<TdxMeasurementInputs['platform']>, tdvfEvents: TdvfEventLayout): Rtmr0Json {
  const m = tdxRtmr0(firmware, platform.fwCfg, tdvfEvents);
  const hex = (n: number) => `0x${n.toString(16)}`;
  return {
    computed: true,
    value: toHex(m.value),
    status: RTMR0_STATUS,
    tdvfEvents,
    platform: { path: platform.name, sha256: platform.sha256, qemuVersion: platform.qemuVersion },
    ram: m.ram.map((r) => ({ address: hex(r.address), length: hex(r.length), accepted: r.accepted })),
    events: m.events.map(rtmrEvent),
  };
}

function directBoot(kernel: NamedBytes, inputs: TdxMeasurementInputs, params: TdxMeasurementParams): Pick<TdxMeasurementJson, 'rtmr' | 'boot' | 'events'> {
  const qemuVersion = params.qemuVersion ?? '9.2';
  const memMiB = params.memMiB ?? 2048;
  const patch = qemuPatchesSetupHeader(qemuVersion);
  const r = tdxDirectBootRtmrs({ kernel: kernel.bytes, initrd: inputs.initrd?.bytes, cmdline: inputs.cmdline ?? '', memMiB, patchSetupHeader: patch });
  return {
    rtmr: { '1': toHex(r.rtmr[1]!), '2': toHex(r.rtmr[2]!) },
    boot: { shape: 'direct', qemuVersion, setupHeaderPatched: patch, memMiB, measuredCmdline: r.measuredCmdline },
    events: r.events,
  };
}

export interface TdShimMeasurementInputs {
  /** bzImage td-shim loads as its payload. */
  kernel?: NamedBytes;
  /** Kernel parameter string. */
  param?: string;
  /** td-shim image: adds its MRTD (single page order) and, with `teeInfo`, the TEE_INFO hash. */
  shim?: NamedBytes;
  teeInfo?: TeeInfoManifest;
}

export interface TdShimMeasurementParams {
  /** KERNEL_SIZE / KERNEL_PARAM_SIZE of the target td-shim (defaults TD_SHIM_KERNEL_SIZE, TD_SHIM_PARAM_SIZE). */
  kernelSize?: number;
  paramSize?: number;
  /** Separator td-shim extends into RTMR0/RTMR1 for the TEE_INFO hash (default 0). */
  separator?: number;
}

/** The `measure td-shim-payload --json` object (schemas/tdx-td-shim-payload.schema.json). */
export interface TdShimMeasurementJson {
  kind: 'td-shim';
  origin: 'predicted';
  payload?: { path: string; size: number; kernelSize: number; sha384: string };
  param?: { value: string; paramSize: number; sha384: string };
  shim?: { path: string; mrtd: string };
  teeInfoHash?: string;
}

/**
 * `measure td-shim-payload`: the payload and parameter hashes td-shim extends into RTMR1, MRTD of a td-shim
 * image when given, and the TEE_INFO hash.
 * @throws InputError or FormatError from the kernel, the shim image or the manifest.
 */
export function tdShimMeasurement(inputs: TdShimMeasurementInputs, params: TdShimMeasurementParams = {}): TdShimMeasurementJson {
  const { kernel, param, shim, teeInfo } = inputs;
  if (teeInfo && !shim) throw new InputError('the TEE_INFO hash needs the td-shim image (its MRTD)');
  const out: TdShimMeasurementJson = { kind: 'td-shim', origin: 'predicted' };
  if (kernel) {
    const kernelSize = params.kernelSize ?? TD_SHIM_KERNEL_SIZE;
    out.payload = { path: kernel.name, size: kernel.bytes.length, kernelSize, sha384: toHex(tdShimPayloadHash(kernel.bytes, kernelSize)) };
  }
  if (param !== undefined) {
    const paramSize = params.paramSize ?? TD_SHIM_PARAM_SIZE;
    out.param = { value: param, paramSize, sha384: toHex(tdShimParamHash(param, paramSize)) };
  }
  if (shim) {
    const { mrtd } = tdxMrtd(shim.bytes, 'single');
    out.shim = { path: shim.name, mrtd: toHex(mrtd) };
    if (teeInfo) out.teeInfoHash = toHex(teeInfoHash(teeInfo, mrtd, params.separator ?? 0));
  }
  return out;
}
