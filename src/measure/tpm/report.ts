/**
 * The `measure pcr --json` object (schemas/pcr-measure.schema.json): the boot shape and its inputs, the
 * predicted PCR banks, the measured events and the PCRs not predicted. Pure: bytes + names + parameters
 * → object.
 */
import { parseVarStore, secureBootVariables } from '../../formats/efi-varstore.js';
import { parseGpt } from '../../formats/gpt.js';
import { parseUki } from '../../formats/uki.js';
import { toHex } from '../../util/bytes.js';
import type { HashAlg } from '../../tcg/index.js';
import {
  bootEvents,
  defaultDiskSlot,
  HASH_ALGS,
  platformFirmwareEvents,
  platformInfo,
  secureBootEnabled,
  separator,
  type FirmwareParams,
  type MeasuredEvent,
  type OvmfPcr0Model,
  pciAddress,
  type PciAddress,
  type PlatformParams,
  type X509IssuedBy,
} from '../boot/index.js';
import { appliedDefaults, describeInput, type AppliedDefaults, type NamedBytes } from '../input.js';
import { NOT_PREDICTED, NOT_PREDICTED_WITH_PLATFORM, PLATFORM_PCRS, PREDICTED_PCRS, pcrBanks, type PcrBanks } from './pcr.js';

export type PcrMeasurementInputs = (
  | { shape: 'direct'; kernel: NamedBytes; initrd?: NamedBytes; cmdline?: string }
  | {
      shape: 'uki';
      uki: NamedBytes;
      /**
       * The first LBAs of the disk holding the ESP (protective MBR, GPT header, entries), measured into PCR5;
       * null: the UKI is loaded from a medium without a GPT (no PCR5 GPT event). Required: a PCR5 predicted
       * without saying which would be wrong for the other case.
       */
      gpt: Uint8Array | null;
    }
) & {
  /** OVMF VARS firmware volume (Secure Boot state, PK/KEK/db/dbx for PCR7); absent: an empty store. */
  vars?: NamedBytes;
  /** The OVMF code image (OVMF_CODE*.fd or OVMF.fd), prepared with ovmfPcr0Model: PCR0 and PCR1 are predicted too. */
  ovmf?: { name: string; sha256: string; model: OvmfPcr0Model };
};

export interface PcrMeasurementParams {
  /** Default sha1, sha256, sha384. */
  banks?: readonly HashAlg[];
  /** direct: QEMU -m in MiB (default 128) and machine type (default q35). */
  memMiB?: number;
  machine?: 'q35' | 'pc';
  /** direct: false when the firmware measures the kernel file as is (SEV/SNP/TDX guests). Default true. */
  patchSetupHeader?: boolean;
  /** uki: systemd-stub major version (default: read from the UKI .sdmagic section). */
  stubVersion?: number;
  /** Secure Boot: X.509 check of db CA certificates (Node: x509IssuedBy from src/sign/x509.ts); see FirmwareParams. */
  issuedBy?: X509IssuedBy;
  /** With `ovmf`: -smp vCPUs (default 1) and maxcpus (default vCPUs). */
  cpus?: number;
  maxCpus?: number;
  /** With `ovmf`, uki: PCI slot/function of the virtio-blk boot disk (default: the first free slot). */
  diskPci?: PciAddress;
}

type FileJson = ReturnType<typeof describeInput>;

export interface PcrMeasurementJson {
  kind: 'pcr';
  origin: 'predicted';
  boot: {
    shape: 'direct' | 'uki';
    secureBoot: boolean;
    vars?: FileJson;
    kernel?: FileJson;
    initrd?: FileJson;
    cmdline?: string;
    memMiB?: number;
    machine?: 'q35' | 'pc';
    setupHeaderPatched?: boolean;
    /** uki: the measured GPT, or null when the UKI was declared to boot from a medium without one. */
    gpt?: { diskGuid: string; partitions: number } | null;
    uki?: FileJson & { stubVersion: string | null };
    /** With an OVMF image: the VM configuration PCR0/PCR1 were predicted for. */
    platform?: {
      ovmf: { name: string; sha256: string };
      machine: 'q35' | 'pc';
      memMiB: number;
      cpus: number;
      maxCpus: number;
      diskPci?: string;
      peiPlatformData: Record<string, string | number | boolean>;
    };
  };
  pcrs: PcrBanks;
  events: { pcr: number; type: string; component: string; digests: Record<string, string>; eventData?: string }[];
  notPredicted: Readonly<Record<string, string>>;
  /** Parameters not given that entered the PCRs with their default value (direct boot: memMiB, machine; with OVMF also cpus, maxCpus, diskPci). */
  defaults: AppliedDefaults;
}

const PLATFORM_COUNTS = new Set(['bootCpus', 'maxCpus', 'defaultMaxCpus', 'physMemAddressWidth']);

/**
 * `measure pcr`'s measurement: the predicted PCR values in every requested bank for a boot shape, the events
 * behind them, what is not predicted and why, and every default the caller left to the library.
 * @throws InputError or FormatError from the inputs (see bootEvents).
 */
export function pcrMeasurement(inputs: PcrMeasurementInputs, params: PcrMeasurementParams = {}): PcrMeasurementJson {
  const banks = [...new Set(params.banks ?? HASH_ALGS)];
  const firmware: FirmwareParams = inputs.vars
    ? { secureBoot: secureBootVariables(parseVarStore(inputs.vars.bytes)), ...(params.issuedBy ? { issuedBy: params.issuedBy } : {}) }
    : {};
  const boot: PcrMeasurementJson['boot'] = {
    shape: inputs.shape,
    secureBoot: secureBootEnabled(firmware),
    ...(inputs.vars ? { vars: describeInput(inputs.vars) } : {}),
  };
  const machine = params.machine ?? 'q35';
  const memMiB = params.memMiB ?? 128;
  let platform: PlatformParams | undefined;
  // parameters left out that entered the PCRs with their default value
  const used: AppliedDefaults = inputs.shape === 'direct' ? { memMiB, machine } : {};
  if (inputs.ovmf) {
    const vm = { machine, memMiB, cpus: params.cpus ?? 1, maxCpus: params.maxCpus ?? params.cpus ?? 1 };
    const pci = inputs.shape === 'uki' ? (params.diskPci ?? { slot: defaultDiskSlot(machine), function: 0 }) : undefined;
    platform = { ovmf: inputs.ovmf.model, vm, ...(pci ? { devices: { kind: 'virtio-blk', pci } } : { devices: { kind: 'direct' } }) };
    Object.assign(used, { memMiB, machine, cpus: vm.cpus, maxCpus: vm.maxCpus }, pci ? { diskPci: pciAddress(pci) } : {});
    const info = platformInfo(vm);
    boot.platform = {
      ovmf: { name: inputs.ovmf.name, sha256: inputs.ovmf.sha256 },
      ...vm,
      ...(pci ? { diskPci: pciAddress(pci) } : {}),
      // addresses and sizes as hex, counts as numbers
      peiPlatformData: Object.fromEntries(
        Object.entries(info).map(([k, v]) => [k, typeof v === 'boolean' || PLATFORM_COUNTS.has(k) ? (v as number | boolean) : `0x${v.toString(16)}`]),
      ),
    };
  }
  let events: MeasuredEvent[];
  if (inputs.shape === 'direct') {
    const { kernel, initrd, cmdline = '' } = inputs;
    const qemu = { memMiB, machine, patchSetupHeader: params.patchSetupHeader ?? true };
    events = bootEvents(
      { shape: 'direct', kernel: kernel.bytes, initrd: initrd?.bytes, cmdline, qemu },
      { algs: banks, firmware, ...(platform ? { platform } : {}) },
    );
    Object.assign(boot, {
      kernel: describeInput(kernel),
      ...(initrd ? { initrd: describeInput(initrd) } : {}),
      cmdline,
      memMiB: qemu.memMiB,
      machine: qemu.machine,
      setupHeaderPatched: qemu.patchSetupHeader,
    });
  } else {
    const gpt = inputs.gpt && parseGpt(inputs.gpt);
    boot.gpt = gpt ? { diskGuid: gpt.diskGuid, partitions: gpt.partitions.length } : null;
    const stubVersion = params.stubVersion;
    events = bootEvents(
      { shape: 'uki', uki: inputs.uki.bytes, ...(gpt ? { gpt } : {}), ...(stubVersion !== undefined ? { stubVersion } : {}) },
      { algs: banks, firmware, ...(platform ? { platform } : {}) },
    );
    boot.uki = { ...describeInput(inputs.uki), stubVersion: parseUki(inputs.uki.bytes).stubVersion ?? null };
  }
  return {
    kind: 'pcr',
    origin: 'predicted',
    boot,
    pcrs: pcrBanks(events, banks, platform ? PLATFORM_PCRS : PREDICTED_PCRS),
    events: events.map((e) => ({
      pcr: e.pcr,
      type: e.type,
      component: e.component,
      digests: Object.fromEntries(Object.entries(e.digests).map(([a, d]) => [a, toHex(d)])),
      ...(e.eventData ? { eventData: toHex(e.eventData) } : {}),
    })),
    notPredicted: platform ? NOT_PREDICTED_WITH_PLATFORM : NOT_PREDICTED,
    defaults: appliedDefaults({ ...params, maxCpus: params.maxCpus ?? params.cpus }, used),
  };
}

/** One PCR0 alternative of a configuration matrix. */
export interface Pcr0Alternative {
  machine: 'q35' | 'pc';
  memMiB: number;
  cpus: number;
  maxCpus: number;
  pcr0: Partial<Record<HashAlg, string>>;
}

/**
 * PCR0 for every combination of machine types, memory sizes, vCPU counts and maxcpus (maxcpus below the
 * vCPU count skipped; an empty `maxCpus` means maxcpus = vCPUs) in one pass: the firmware is decompressed
 * once and only the PEI volume changes.
 */
export function pcr0Matrix(
  ovmf: OvmfPcr0Model,
  axes: { machines: readonly ('q35' | 'pc')[]; memMiB: readonly number[]; cpus: readonly number[]; maxCpus: readonly number[] },
  banks: readonly HashAlg[] = HASH_ALGS,
): Pcr0Alternative[] {
  const out: Pcr0Alternative[] = [];
  for (const machine of axes.machines)
    for (const memMiB of axes.memMiB)
      for (const cpus of axes.cpus)
        for (const maxCpus of axes.maxCpus.length ? axes.maxCpus : [cpus]) {
          if (maxCpus < cpus) continue;
          const events = [...platformFirmwareEvents(ovmf, { machine, memMiB, cpus, maxCpus }, banks), separator(0, banks)];
          const pcrs = pcrBanks(events, banks, [0]);
          out.push({ machine, memMiB, cpus, maxCpus, pcr0: Object.fromEntries(banks.map((a) => [a, pcrs[a]!['0']!])) });
        }
  return out;
}
