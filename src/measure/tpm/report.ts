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
import { bootEvents, HASH_ALGS, secureBootEnabled, type FirmwareParams, type MeasuredEvent, type X509IssuedBy } from '../boot/index.js';
import { describeInput, type NamedBytes } from '../input.js';
import { NOT_PREDICTED, pcrBanks, type PcrBanks } from './pcr.js';

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
  };
  pcrs: PcrBanks;
  events: { pcr: number; type: string; component: string; digests: Record<string, string>; eventData?: string }[];
  notPredicted: Readonly<Record<string, string>>;
}

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
  let events: MeasuredEvent[];
  if (inputs.shape === 'direct') {
    const { kernel, initrd, cmdline = '' } = inputs;
    const qemu = { memMiB: params.memMiB ?? 128, machine: params.machine ?? 'q35', patchSetupHeader: params.patchSetupHeader ?? true };
    events = bootEvents({ shape: 'direct', kernel: kernel.bytes, initrd: initrd?.bytes, cmdline, qemu }, { algs: banks, firmware });
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
      { algs: banks, firmware },
    );
    boot.uki = { ...describeInput(inputs.uki), stubVersion: parseUki(inputs.uki.bytes).stubVersion ?? null };
  }
  return {
    kind: 'pcr',
    origin: 'predicted',
    boot,
    pcrs: pcrBanks(events, banks),
    events: events.map((e) => ({
      pcr: e.pcr,
      type: e.type,
      component: e.component,
      digests: Object.fromEntries(Object.entries(e.digests).map(([a, d]) => [a, toHex(d)])),
      ...(e.eventData ? { eventData: toHex(e.eventData) } : {}),
    })),
    notPredicted: NOT_PREDICTED,
  };
}
