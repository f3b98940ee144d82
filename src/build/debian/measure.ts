/**
 * What a verifier needs from a confirmed firmware binary: SNP launch digests for every image carrying
 * SEV metadata (QEMU, the VMM that boots a distribution's OVMF; vCPU counts 1–64 per vCPU type) and
 * the MRTD for every image carrying TDX metadata — computed by the same library functions as
 * `measure snp` / `measure tdx`.
 */
import { describeOvmf, parseOvmf } from '../../formats/ovmf.js';
import type { Measurement } from '../../measure/measurement.js';
import { snpMeasurement } from '../../measure/snp/report.js';
import { tdxMeasurement } from '../../measure/tdx/report.js';

/** vCPU counts of the SNP digests. */
export const SNP_VCPUS: readonly number[] = Array.from({ length: 64 }, (_, i) => i + 1);
/** QEMU VMSAs carry the vCPU signature: one digest set per EPYC generation with SEV-SNP. */
export const SNP_VCPU_TYPES: readonly string[] = ['EPYC-Milan', 'EPYC-Genoa', 'EPYC-Turin'];
/** Why no EC2 or GCE digests: those VMMs launch their own firmware build, never a distribution's image. */
export const CLOUD_VMMS_NOT_APPLICABLE = 'ec2, gce: not applicable (they launch their own OVMF build; a guest cannot bring a distribution image)';

export interface FirmwareMeasurements {
  path: string;
  sev: boolean;
  tdx: boolean;
  measurements: Measurement[];
  /** A measurement that could not be made, with why. */
  notes: string[];
}

/** SNP (per vCPU type) and TDX measurements of one confirmed image; an image without the metadata gets none. */
export function measureFirmware(path: string, bytes: Uint8Array): FirmwareMeasurements {
  const notes: string[] = [];
  let info: ReturnType<typeof describeOvmf>;
  try {
    info = describeOvmf(parseOvmf(bytes));
  } catch (e) {
    return { path, sev: false, tdx: false, measurements: [], notes: [`not an OVMF image: ${(e as Error).message}`] };
  }
  const measurements: Measurement[] = [];
  const firmware = { name: path, bytes };
  const attempt = (what: string, f: () => Measurement) => {
    try {
      measurements.push(f());
    } catch (e) {
      notes.push(`${what}: ${(e as Error).message}`);
    }
  };
  if (info.sevMetadata)
    for (const type of SNP_VCPU_TYPES)
      attempt(`snp qemu ${type}`, () => snpMeasurement({ firmware }, { vmm: 'qemu', mode: 'snp', vcpu: { type }, vcpus: SNP_VCPUS }));
  if (info.tdxMetadata) attempt('tdx', () => tdxMeasurement({ firmware }));
  return { path, sev: Boolean(info.sevMetadata), tdx: Boolean(info.tdxMetadata), measurements, notes };
}
