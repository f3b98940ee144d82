/**
 * The reference-values document (schemas/reference-values.schema.json): one per build, built from a
 * combined measurements.json (schema cvm-measure/measurements/v1) or a single `measure … --json`
 * output (kind snp|tdx|pcr). The adapter is deliberately tolerant of field spelling ("vcpu type",
 * vcpuType, vcpu_type); every parameter it does not interpret is kept under `parameters`.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
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

export interface SnpValues {
  /** Everything that selects this digest set except the vCPU count: mode, vmm, vcpuType, guestFeatures, ... */
  parameters: Params;
  /** SNP launch digest (ATTESTATION_REPORT MEASUREMENT, 48 bytes hex) by vCPU count. */
  launchDigests: Record<string, string>;
  /** What a verifier needs to extend the digest to other vCPU counts (opaque, from the measure output). */
  seed?: unknown;
  /** Input files (firmware, kernel, ...): name → {sha256, sha384, file (base name)}. */
  inputs: Record<string, Record<string, string>>;
}

export interface TdxValues {
  parameters: Params;
  mrtd: string;
  /** Predicted RTMRs by index ("0".."3"). */
  rtmr: Record<string, string>;
  /** RTMRs not predicted and why (VMM-dependent, runtime). */
  notPredicted: Record<string, string>;
  inputs: Record<string, Record<string, string>>;
}

export interface PcrValues {
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
}

/** Lowercase alphanumerics only: "vcpu type", "vcpuType" and "vcpu_type" all become "vcputype". */
const norm = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, '');

function field(obj: Record<string, unknown>, ...names: string[]): unknown {
  const want = new Set(names.map(norm));
  for (const [k, v] of Object.entries(obj)) if (want.has(norm(k))) return v;
  return undefined;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function hexDigest(v: unknown, bytes: number, what: string): string {
  const s = typeof v === 'string' ? v.replace(/^0x/i, '').toLowerCase() : '';
  if (!new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(s)) throw new InputError(`${what}: expected ${bytes} bytes of hex, got ${JSON.stringify(v)}`);
  return s;
}

const DIGEST_BYTES: Record<string, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** Derived detail the measure commands print that is not a parameter of the reference value. */
const DERIVED = new Set(['vmsa', 'measuredsections', 'events', 'footertable', 'warnings', 'sections', 'metadata']);

/**
 * Splits a measurement object into interpreted fields, scalar parameters (nested objects flattened
 * to dotted names) and hashed inputs (any object carrying sha256/sha384/...: firmware, kernel, ...).
 * Local paths are dropped so the document does not depend on where the build ran.
 */
function split(m: Record<string, unknown>, interpreted: string[]): { parameters: Params; inputs: Record<string, Record<string, string>> } {
  const skip = new Set(['kind', ...interpreted].map(norm));
  const parameters: Params = {};
  const inputs: Record<string, Record<string, string>> = {};
  const walk = (obj: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if ((prefix === '' && skip.has(norm(k))) || DERIVED.has(norm(k))) continue;
      const name = prefix + k;
      if (norm(k) === 'path') continue;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') parameters[name] = v;
      else if (isObj(v)) {
        const d = Object.entries(isObj(v.digests) ? v.digests : v).filter(([a, x]) => a in DIGEST_BYTES && typeof x === 'string' && x.length === DIGEST_BYTES[a]! * 2) as [string, string][];
        if (d.length > 0) inputs[name] = Object.fromEntries([...d.map(([a, x]) => [a, x.toLowerCase()]), ...(typeof v.path === 'string' ? [['file', v.path.split('/').pop()!]] : [])]);
        else walk(v, `${name}.`);
      }
    }
  };
  walk(m, '');
  return { parameters, inputs };
}

function registerMap(v: unknown, bytes: number | undefined, what: string): Record<string, string> {
  if (v === undefined) return {};
  const out: Record<string, string> = {};
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : isObj(v) ? Object.entries(v) : undefined;
  if (!entries) throw new InputError(`${what}: expected an object of index → hex`);
  for (const [k, x] of entries) {
    if (x === null || x === undefined) continue;
    const idx = k.replace(/^(rtmr|pcr)_?/i, '');
    if (!/^\d+$/.test(idx)) throw new InputError(`${what}: bad register index ${JSON.stringify(k)}`);
    const s = typeof x === 'string' ? x : '';
    out[String(Number(idx))] = hexDigest(s, bytes ?? s.replace(/^0x/i, '').length / 2, `${what}[${k}]`);
  }
  return out;
}

function reasons(v: unknown, what: string): Record<string, string> {
  if (v === undefined) return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((i) => [String(i), 'not predicted']));
  if (!isObj(v)) throw new InputError(`${what}: expected an object of index → reason`);
  return Object.fromEntries(Object.entries(v).map(([k, r]) => [String(Number(k.replace(/^\D+/, ''))), String(r)]));
}

function snpValues(m: Record<string, unknown>, where: string): SnpValues {
  const digests = field(m, 'digests', 'launchDigests');
  const launchDigests: Record<string, string> = {};
  if (isObj(digests)) {
    for (const [k, v] of Object.entries(digests)) launchDigests[String(Number(k))] = hexDigest(v, 48, `${where}.digests[${k}]`);
  } else if (Array.isArray(digests)) {
    for (const [i, d] of digests.entries()) {
      if (!isObj(d)) throw new InputError(`${where}.digests[${i}]: expected {vcpus, digest}`);
      launchDigests[String(field(d, 'vcpus', 'vcpuCount'))] = hexDigest(field(d, 'digest', 'measurement', 'launchDigest'), 48, `${where}.digests[${i}]`);
    }
  } else {
    const single = field(m, 'digest', 'measurement', 'launchDigest');
    if (single === undefined) throw new InputError(`${where}: snp measurement has no digests`);
    launchDigests[String(field(m, 'vcpus', 'vcpuCount') ?? 1)] = hexDigest(single, 48, `${where}.digest`);
  }
  if (Object.keys(launchDigests).some((k) => !/^[1-9]\d*$/.test(k))) throw new InputError(`${where}.digests: keys must be vCPU counts`);
  const seed = field(m, 'seed');
  return { ...split(m, ['digests', 'launchDigests', 'digest', 'measurement', 'launchDigest', 'seed', 'vcpus']), launchDigests, ...(seed === undefined ? {} : { seed }) };
}

/** RTMR0 holds the VMM's TD HOB / ACPI / CFV configuration, RTMR3 is extended at run time. */
const TDX_DEFAULT_REASONS: Record<string, string> = {
  '0': 'VMM-dependent: TD HOB, ACPI tables and configuration firmware volume come from the VMM',
  '3': 'extended by the guest at run time',
};

function tdxValues(m: Record<string, unknown>, where: string): TdxValues {
  const rtmr = registerMap(field(m, 'rtmr', 'rtmrs'), 48, `${where}.rtmr`);
  const given = reasons(field(m, 'notPredicted', 'vmmDependent'), `${where}.notPredicted`);
  // measure tdx prints {"rtmr0": {"computed": false, "dependsOn": [...]}} for registers it cannot predict
  for (const i of ['0', '1', '2', '3']) {
    const r = field(m, `rtmr${i}`);
    if (isObj(r) && r.computed === false && Array.isArray(r.dependsOn)) given[i] ??= `VMM-dependent: ${r.dependsOn.join('; ')}`;
  }
  const notPredicted: Record<string, string> = {};
  for (const i of ['0', '1', '2', '3']) if (!(i in rtmr)) notPredicted[i] = given[i] ?? TDX_DEFAULT_REASONS[i] ?? 'not predicted';
  return {
    ...split(m, ['mrtd', 'rtmr', 'rtmrs', 'notPredicted', 'vmmDependent', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']),
    mrtd: hexDigest(field(m, 'mrtd'), 48, `${where}.mrtd`),
    rtmr,
    notPredicted,
  };
}

function pcrValues(m: Record<string, unknown>, where: string): PcrValues {
  const pcrs = field(m, 'pcrs', 'banks');
  if (!isObj(pcrs)) throw new InputError(`${where}.pcrs: expected {bank: {index: hex}}`);
  const banks: Record<string, Record<string, string>> = {};
  for (const [bank, regs] of Object.entries(pcrs)) {
    const b = bank.toLowerCase().replace(/[^a-z0-9]/g, '');
    if (!(b in DIGEST_BYTES)) throw new InputError(`${where}.pcrs: unknown bank ${JSON.stringify(bank)}`);
    banks[b] = registerMap(regs, DIGEST_BYTES[b], `${where}.pcrs.${bank}`);
  }
  return {
    ...split(m, ['pcrs', 'banks', 'events', 'notPredicted']),
    banks,
    notPredicted: reasons(field(m, 'notPredicted'), `${where}.notPredicted`),
  };
}

function artifactsOf(v: unknown): Artifact[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObj).map((a, i) => {
    const name = field(a, 'name') ?? (typeof a.path === 'string' ? a.path.split('/').pop() : undefined);
    if (typeof name !== 'string' || name === '') throw new InputError(`artifacts[${i}]: no name`);
    const out: Artifact = { name };
    const size = field(a, 'size');
    if (typeof size === 'number') out.size = size;
    for (const alg of ['sha256', 'sha384'] as const) {
      const d = field(a, alg);
      if (d !== undefined) out[alg] = hexDigest(d, DIGEST_BYTES[alg]!, `artifacts[${i}].${alg}`);
    }
    return out;
  });
}

/** Artifacts of a single measure-command output: its hashed inputs (firmware, kernel, ...). */
function artifactsFromInputs(values: { inputs: Record<string, Record<string, string>> }[]): Artifact[] {
  const byName = new Map<string, Artifact>();
  for (const v of values) {
    for (const [key, d] of Object.entries(v.inputs)) {
      const name = d.file ?? key;
      byName.set(name, { name, ...(d.sha256 ? { sha256: d.sha256 } : {}), ...(d.sha384 ? { sha384: d.sha384 } : {}) });
    }
  }
  return [...byName.values()].filter((a) => a.sha256 || a.sha384);
}

/**
 * Builds the reference-values document from a measurements document (combined or single) and the
 * raw bytes of an optional build record (an in-toto Statement or a DSSE envelope around one).
 */
export function referenceValuesFrom(measurements: unknown, buildRecord?: { bytes: Uint8Array; statement: Record<string, unknown> }): ReferenceValues {
  if (!isObj(measurements)) throw new InputError('measurements: expected a JSON object');
  let list: unknown[];
  let artifacts: Artifact[] | undefined;
  if (measurements.schema === MEASUREMENTS_SCHEMA || Array.isArray(measurements.measurements)) {
    if (!Array.isArray(measurements.measurements)) throw new InputError('measurements: "measurements" must be an array');
    list = measurements.measurements;
    artifacts = artifactsOf(measurements.artifacts);
  } else if (typeof measurements.kind === 'string') {
    list = [measurements];
  } else {
    throw new InputError(`measurements: neither a combined document (schema ${MEASUREMENTS_SCHEMA}) nor a measure output with "kind"`);
  }
  const rv: ReferenceValues = { schema: REFERENCE_VALUES_SCHEMA, artifacts: [], snp: [], tdx: [], pcr: [] };
  list.forEach((m, i) => {
    const where = `measurements[${i}]`;
    if (!isObj(m)) throw new InputError(`${where}: expected an object`);
    if (m.kind === 'snp') rv.snp.push(snpValues(m, where));
    else if (m.kind === 'tdx') rv.tdx.push(tdxValues(m, where));
    else if (m.kind === 'pcr') rv.pcr.push(pcrValues(m, where));
    else throw new InputError(`${where}: unknown kind ${JSON.stringify(m.kind)} (expected snp, tdx or pcr)`);
  });
  rv.artifacts = artifacts ?? artifactsFromInputs([...rv.snp, ...rv.tdx, ...rv.pcr]);
  // a build without a measure: block still has artifacts to attest
  if (rv.snp.length + rv.tdx.length + rv.pcr.length === 0 && rv.artifacts.length === 0) throw new InputError('measurements: no snp, tdx or pcr measurement and no artifact found');
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
