/** Measure outputs constructed for tests that need their shape, not a real measurement. */
import type { SnpMeasurementJson } from '../../src/measure/measurement.js';

/** A `measure snp` output for the Debian OVMF (fields as printed; the firmware description shortened), with `over` replacing fields. */
export function snpOutput(digests: Record<string, string>, over: Partial<SnpMeasurementJson> = {}): SnpMeasurementJson {
  return {
    kind: 'snp',
    origin: 'predicted',
    mode: 'snp',
    vmm: 'qemu',
    digests,
    vcpu: { type: 'EPYC-v4', signature: '0x800f12' },
    guestFeatures: '0x1',
    policy: null,
    quirks: { ec2Rdx: '0x600', qemuFpu: 'sev-init2', vmsaGpaBits: 48 },
    vmsa: null,
    measuredSections: [],
    firmware: { path: '/x/OVMF.fd', sha256: 'cd'.repeat(32) } as SnpMeasurementJson['firmware'],
    directBoot: null,
    svsm: null,
    seed: null,
    seedProvided: false,
    warnings: [],
    defaults: {},
    reference: 'virtee/sev-snp-measure 0.0.13',
    ...over,
  };
}
