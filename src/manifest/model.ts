/**
 * The reference-values document (schemas/reference-values.schema.json): one per build, mapped from
 * typed measurements (src/measure/measurement.ts) by an explicit per-platform table of what is signed.
 * Nothing is signed by accident: a field a mapping does not name is not in the document, and a new
 * field in a measure report changes nothing here until a mapping names it (test/contract.test.ts
 * fails on a report field that no mapping classifies). Foreign JSON enters through ./import.ts.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import type { Measurement, PcrMeasurementJson, SnpMeasurementJson, TdxMeasurementJson } from '../measure/measurement.js';
import { canonicalJson } from '../sign/canonical-json.js';

export const REFERENCE_VALUES_SCHEMA = 'cvm-measure/reference-values/v1';
export const MEASUREMENTS_SCHEMA = 'cvm-measure/measurements/v1';

export interface Artifact {
  name: string;
  size?: number;
  sha256?: string;
  sha384?: string;
}

type Params = Record<string, string | number | boolean>;

/** Values signed from a stated-values file carry where they came from; predicted ones carry neither field. */
interface Stated {
  origin?: 'stated';
  source?: string;
}

/** A stated-values file (schemas/stated-values.schema.json): golden values from elsewhere. */
export interface StatedValuesDocument {
  schema: typeof STATED_VALUES_SCHEMA;
  values: (
    | { platform: 'snp'; origin: 'stated'; source: string; parameters?: Params; launchDigests: Record<string, string> }
    | { platform: 'tdx'; origin: 'stated'; source: string; parameters?: Params; mrtd: string; rtmr?: Record<string, string> }
    | { platform: 'pcr'; origin: 'stated'; source: string; parameters?: Params; banks: Record<string, Record<string, string>> }
  )[];
}

export const STATED_VALUES_SCHEMA = 'cvm-measure/stated-values/v1';

export interface SnpValues extends Stated {
  /** Everything that selects this digest set except the vCPU count: mode, vmm, vcpuType, guestFeatures, ... */
  parameters: Params;
  /** SNP launch digest (ATTESTATION_REPORT MEASUREMENT, 48 bytes hex) by vCPU count. */
  launchDigests: Record<string, string>;
  /** What a verifier needs to extend the digest to other vCPU counts (opaque, from the measure output). */
  seed?: unknown;
  /** Input files (firmware, kernel, ...): name → {sha256, sha384, file (base name)}. */
  inputs: Record<string, Record<string, string>>;
}

export interface TdxValues extends Stated {
  parameters: Params;
  mrtd: string;
  /** Predicted RTMRs by index ("0".."3"). */
  rtmr: Record<string, string>;
  /** RTMRs not predicted and why (VMM-dependent, runtime). */
  notPredicted: Record<string, string>;
  inputs: Record<string, Record<string, string>>;
}

export interface PcrValues extends Stated {
  parameters: Params;
  /** bank (sha1, sha256, sha384, sha512) → PCR index → hex. */
  banks: Record<string, Record<string, string>>;
  notPredicted: Record<string, string>;
  inputs: Record<string, Record<string, string>>;
}

export interface ReferenceValues {
  schema: typeof REFERENCE_VALUES_SCHEMA;
  artifacts: Artifact[];
  snp: SnpValues[];
  tdx: TdxValues[];
  pcr: PcrValues[];
  /** The build record these values came with: sha256 of the Statement bytes signed in provenance.intoto.json, predicate type. */
  buildRecord?: { sha256: string; predicateType?: string };
  /** Only in the signed in-toto predicate: the validity window of the signature (the CoRIMs' window), RFC 3339 UTC. */
  validity?: { notBefore: string; notAfter: string };
}

/** The combined document `build` writes as measurements.json (schemas/measurements.schema.json). */
export interface MeasurementsDocument {
  schema: typeof MEASUREMENTS_SCHEMA;
  artifacts: (Artifact & { path?: string })[];
  measurements: Measurement[];
}

type Inputs = Record<string, Record<string, string>>;

/** A hashed input as signed: its digest and base name (never the local path). */
function input(f: { path: string; sha256?: string; digests?: { sha256: string } } | undefined): Record<string, string> | undefined {
  if (!f) return undefined;
  return { sha256: (f.sha256 ?? f.digests!.sha256).toLowerCase(), file: baseName(f.path) };
}

const baseName = (p: string) => p.split('/').pop()!;

/** Drops absent and null entries (an absent knob is not a signed parameter). */
function defined<T>(o: Record<string, T | null | undefined>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Record<string, T>;
}

/**
 * SNP (AMD SEV-SNP ABI Table 23 MEASUREMENT): launch digests by vCPU count, and every knob that
 * selected them. Derived detail (VMSA fields, measured sections, warnings) is not signed: the knobs
 * determine it.
 */
export const SNP_SIGNED = {
  values: ['digests', 'seed'],
  parameters: ['mode', 'vmm', 'vcpu', 'guestFeatures', 'policy', 'quirks', 'directBoot', 'svsm', 'seedProvided', 'reference'],
  inputs: ['firmware'],
  unsigned: ['kind', 'origin', 'vmsa', 'measuredSections', 'warnings', 'defaults'],
} as const;

function snpValues(m: SnpMeasurementJson, where: string): SnpValues {
  const launchDigests = { ...m.digests };
  if (Object.keys(launchDigests).length === 0)
    throw new InputError(`${where}: snp measurement has no launch digests (a --print-seed output is not a reference value)`);
  const d = m.directBoot;
  const svsm = m.svsm;
  const parameters = defined<string | number | boolean>({
    mode: m.mode,
    vmm: m.vmm,
    'vcpu.type': m.vcpu?.type,
    'vcpu.signature': m.vcpu?.signature,
    guestFeatures: m.guestFeatures,
    policy: m.policy,
    'quirks.ec2Rdx': m.quirks.ec2Rdx,
    'quirks.qemuFpu': m.quirks.qemuFpu,
    'quirks.vmsaGpaBits': m.quirks.vmsaGpaBits,
    'directBoot.kernel': d?.kernel && baseName(d.kernel),
    'directBoot.initrd': d?.initrd && baseName(d.initrd),
    'directBoot.cmdline': d?.cmdline,
    'directBoot.kernelSha256': d?.kernelSha256,
    'directBoot.initrdSha256': d?.initrdSha256,
    'directBoot.cmdlineSha256': d?.cmdlineSha256,
    'svsm.size': svsm?.size,
    'svsm.gpa': svsm?.gpa,
    'svsm.varsSize': svsm?.varsSize,
    'svsm.entryEip': svsm?.entryEip,
    'svsm.sevMetadata.offset': svsm?.sevMetadata?.offset,
    'svsm.sevMetadata.version': svsm?.sevMetadata?.version,
    seedProvided: m.seedProvided,
    reference: m.reference,
  });
  return { parameters, launchDigests, ...(m.seed === null ? {} : { seed: m.seed }), inputs: defined({ firmware: input(m.firmware) }) };
}

/** RTMR0 holds the VMM's TD HOB / ACPI / CFV configuration, RTMR3 is extended at run time. */
const TDX_DEFAULT_REASONS: Record<string, string> = {
  '0': 'VMM-dependent: TD HOB, ACPI tables and configuration firmware volume come from the VMM',
  '3': 'extended by the guest at run time',
};

/** TDX (Intel TDX Module ABI TDREPORT: MRTD, RTMR[0..3]): MRTD, the predicted RTMRs and why the others are not. */
export const TDX_SIGNED = {
  values: ['mrtd', 'rtmr', 'rtmr0'],
  parameters: ['pageOrder', 'boot'],
  inputs: ['firmware'],
  unsigned: ['kind', 'origin', 'sections', 'events', 'defaults'],
} as const;

function tdxValues(m: TdxMeasurementJson): TdxValues {
  const r0 = m.rtmr0;
  // A modelled RTMR0 is signed with its status, so a verifier can tell it was never checked on a real TD.
  const rtmr: Record<string, string> = { ...(m.rtmr ?? {}), ...(r0.computed ? { '0': r0.value } : {}) };
  const given: Record<string, string> = r0.computed ? {} : { '0': `VMM-dependent: ${r0.dependsOn.join('; ')}` };
  const notPredicted: Record<string, string> = {};
  for (const i of ['0', '1', '2', '3']) if (!(i in rtmr)) notPredicted[i] = given[i] ?? TDX_DEFAULT_REASONS[i] ?? 'not predicted';
  const b = m.boot;
  const parameters = defined<string | number | boolean>({
    pageOrder: m.pageOrder,
    'boot.shape': b?.shape,
    'boot.qemuVersion': b?.qemuVersion,
    'boot.setupHeaderPatched': b?.setupHeaderPatched,
    'boot.memMiB': b?.memMiB,
    'boot.measuredCmdline': b?.measuredCmdline,
    'rtmr0.status': r0.computed ? r0.status : undefined,
    'rtmr0.tdvfEvents': r0.computed ? r0.tdvfEvents : undefined,
    'rtmr0.qemuVersion': r0.computed ? r0.platform.qemuVersion : undefined,
  });
  return {
    parameters,
    mrtd: m.mrtd,
    rtmr,
    notPredicted,
    inputs: defined({ firmware: input(m.firmware), platform: r0.computed ? input({ path: r0.platform.path, sha256: r0.platform.sha256 }) : undefined }),
  };
}

/** vTPM PCRs (TCG PC Client PFP §3.3.4): banks of predicted PCRs, the boot knobs and the hashed boot files. */
export const PCR_SIGNED = {
  values: ['pcrs', 'notPredicted'],
  parameters: ['boot'],
  inputs: ['boot.vars', 'boot.kernel', 'boot.initrd', 'boot.uki'],
  unsigned: ['kind', 'origin', 'events', 'defaults'],
} as const;

function pcrValues(m: PcrMeasurementJson): PcrValues {
  const b = m.boot;
  const parameters = defined<string | number | boolean>({
    'boot.shape': b.shape,
    'boot.secureBoot': b.secureBoot,
    'boot.cmdline': b.cmdline,
    'boot.memMiB': b.memMiB,
    'boot.machine': b.machine,
    'boot.setupHeaderPatched': b.setupHeaderPatched,
    'boot.gpt.diskGuid': b.gpt?.diskGuid,
    'boot.gpt.partitions': b.gpt?.partitions,
    // a UKI declared to boot from a medium without a GPT: PCR5 holds no GPT event, and the signed values say so
    ...(b.gpt === null ? { 'boot.gpt': 'none' } : {}),
  });
  const inputs: Inputs = defined({ 'boot.vars': input(b.vars), 'boot.kernel': input(b.kernel), 'boot.initrd': input(b.initrd), 'boot.uki': input(b.uki) });
  const banks = Object.fromEntries(Object.entries(m.pcrs).map(([bank, regs]) => [bank, { ...(regs as Record<string, string>) }]));
  return { parameters, banks, notPredicted: { ...m.notPredicted }, inputs };
}

/** Artifacts of a single measurement: its hashed inputs (firmware, kernel, ...). */
function artifactsFromInputs(values: { inputs: Inputs }[]): Artifact[] {
  const byName = new Map<string, Artifact>();
  for (const v of values) for (const d of Object.values(v.inputs)) byName.set(d.file!, { name: d.file!, sha256: d.sha256! });
  return [...byName.values()];
}

/**
 * Maps typed measurements (a combined document, or one measurement), the raw bytes of an optional
 * build record (an in-toto Statement or a DSSE envelope around one) and stated values (marked
 * `origin: stated` with their source, never merged into predicted entries) to the reference-values document.
 * @throws {InputError} for a measurement that cannot be signed (observed values, a seed-only SNP
 * output, a td-shim payload report without a launch register).
 */
export function referenceValuesFrom(
  measurements: MeasurementsDocument | Measurement | undefined,
  buildRecord?: { bytes: Uint8Array; statement: Record<string, unknown> },
  stated?: StatedValuesDocument,
): ReferenceValues {
  const doc = measurements && 'schema' in measurements ? measurements : undefined;
  const list: Measurement[] = doc ? doc.measurements : measurements ? [measurements as Measurement] : [];
  const rv: ReferenceValues = { schema: REFERENCE_VALUES_SCHEMA, artifacts: [], snp: [], tdx: [], pcr: [] };
  list.forEach((m, i) => {
    const where = `measurements[${i}]`;
    if ((m.origin as string) !== 'predicted')
      throw new InputError(`${where}: origin ${JSON.stringify(m.origin)}: only predicted values are signed, never values read off evidence`);
    if (m.kind === 'snp') rv.snp.push(snpValues(m, where));
    else if (m.kind === 'tdx') rv.tdx.push(tdxValues(m));
    else if (m.kind === 'pcr') rv.pcr.push(pcrValues(m));
    else throw new InputError(`${where}: a td-shim payload report has no launch register to sign; sign the td-shim image's \`measure tdx\` output`);
  });
  for (const v of stated?.values ?? []) {
    const mark = { origin: 'stated' as const, source: v.source, parameters: { ...v.parameters }, inputs: {} };
    if (v.platform === 'snp') rv.snp.push({ ...mark, launchDigests: { ...v.launchDigests } });
    else if (v.platform === 'tdx') {
      const rtmr = { ...v.rtmr };
      rv.tdx.push({
        ...mark,
        mrtd: v.mrtd,
        rtmr,
        notPredicted: Object.fromEntries(['0', '1', '2', '3'].filter((i) => !(i in rtmr)).map((i) => [i, 'not stated'])),
      });
    } else rv.pcr.push({ ...mark, banks: structuredClone(v.banks), notPredicted: {} });
  }
  rv.artifacts = doc
    ? doc.artifacts.map(({ name, size, sha256, sha384 }) => ({ name, ...defined({ size, sha256, sha384 }) }) as Artifact)
    : artifactsFromInputs([...rv.snp, ...rv.tdx, ...rv.pcr]);
  // a build without a measure: block still has artifacts to attest
  if (rv.snp.length + rv.tdx.length + rv.pcr.length === 0 && rv.artifacts.length === 0)
    throw new InputError('measurements: no snp, tdx or pcr measurement and no artifact found');
  if (buildRecord) {
    const pt = buildRecord.statement.predicateType;
    rv.buildRecord = { sha256: createHash('sha256').update(buildRecord.bytes).digest('hex'), ...(typeof pt === 'string' ? { predicateType: pt } : {}) };
  }
  return rv;
}

/** The document's canonical bytes (what is hashed, signed and written as reference-values.json). */
export function canonicalReferenceValues(rv: ReferenceValues): Buffer {
  return Buffer.from(canonicalJson(rv), 'utf8');
}
