/**
 * Guest vCPU signatures: the CPUID Fn0000_0001_EAX value KVM puts in RDX of the reset VMSA (QEMU).
 * Encoding per AMD CPUID Specification #25481, "CPUID Fn0000_0001_EAX Family, Model, Stepping Identifiers".
 */
import { InputError } from '../../errors.js';

export function cpuSignature(family: number, model: number, stepping: number): number {
  const familyLow = Math.min(family, 0xf);
  const familyHigh = family > 0xf ? (family - 0xf) & 0xff : 0;
  return ((familyHigh << 20) | (((model >> 4) & 0xf) << 16) | (familyLow << 8) | ((model & 0xf) << 4) | (stepping & 0xf)) >>> 0;
}

/** QEMU builtin_x86_defs AMD EPYC models and their family/model/stepping (as sev-snp-measure 0.0.13). */
const MODELS: Record<string, [number, number, number]> = {
  EPYC: [23, 1, 2],
  'EPYC-v1': [23, 1, 2],
  'EPYC-v2': [23, 1, 2],
  'EPYC-IBPB': [23, 1, 2],
  'EPYC-v3': [23, 1, 2],
  'EPYC-v4': [23, 1, 2],
  'EPYC-Rome': [23, 49, 0],
  'EPYC-Rome-v1': [23, 49, 0],
  'EPYC-Rome-v2': [23, 49, 0],
  'EPYC-Rome-v3': [23, 49, 0],
  'EPYC-Milan': [25, 1, 1],
  'EPYC-Milan-v1': [25, 1, 1],
  'EPYC-Milan-v2': [25, 1, 1],
  'EPYC-Genoa': [25, 17, 0],
  'EPYC-Genoa-v1': [25, 17, 0],
  'EPYC-Turin': [26, 0, 0],
};

export const VCPU_TYPES: readonly string[] = Object.keys(MODELS);

/** How the caller named the vCPU: a QEMU model, a raw signature, or family/model/stepping. */
export type VcpuSpec = { type: string } | { signature: number } | { family: number; model: number; stepping: number };

export interface ResolvedVcpu {
  signature: number;
  /** Canonical QEMU model name when given by name. */
  type?: string;
}

/**
 * Resolves a vCPU spec (a model name, a CPUID signature or family/model/stepping) to its signature.
 * @throws InputError for an unknown model name (listing the valid ones) or a signature above 32 bits.
 */
export function resolveVcpu(spec: VcpuSpec): ResolvedVcpu {
  if ('type' in spec) {
    const type = VCPU_TYPES.find((t) => t.toLowerCase() === spec.type.toLowerCase());
    if (!type) throw new InputError(`unknown vCPU type ${JSON.stringify(spec.type)}; valid types: ${VCPU_TYPES.join(', ')}`);
    const [f, m, s] = MODELS[type]!;
    return { signature: cpuSignature(f, m, s), type };
  }
  if ('signature' in spec) {
    if (!Number.isInteger(spec.signature) || spec.signature < 0 || spec.signature > 0xffffffff)
      throw new InputError(`vCPU signature ${spec.signature} is not a 32-bit value`);
    return { signature: spec.signature };
  }
  return { signature: cpuSignature(spec.family, spec.model, spec.stepping) };
}
