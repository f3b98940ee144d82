/**
 * Diagnose an SNP MEASUREMENT mismatch: digests made with a knob changed (vCPU count, SEV_FEATURES,
 * VMM, vCPU type) against a release published for other values are traced to that knob.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { referenceValuesFrom } from '../src/manifest/model.js';
import { snpMeasurement } from '../src/measure/snp/report.js';
import { diagnoseSnp } from '../src/verify/diagnose-snp.js';
import { describeShared, shared } from './helpers/shared.js';

describeShared('diagnose SNP', () => {
  const firmware = { name: 'OVMF.fd', bytes: new Uint8Array(readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'))) };
  const release = referenceValuesFrom(snpMeasurement({ firmware }, { vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [1, 2, 4, 8] })).snp[0]!;
  const digest = (p: Parameters<typeof snpMeasurement>[1]) => Object.values(snpMeasurement({ firmware }, p).digests)[0]!;

  it('a report measured with 6 vCPUs against a release for 1, 2, 4, 8 names 6', () => {
    const d = diagnoseSnp(digest({ vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [6] }), release, firmware.bytes);
    expect(d.found).toMatchObject({ vcpus: 6, vmm: 'qemu', vcpuType: 'EPYC-v4', guestFeatures: 1n });
    expect(d.differences).toEqual(['vCPUs: 6; the release has 1, 2, 4, 8']);
  });

  it('guest features 0x21 against a release for 0x1 names debug_swap', () => {
    const d = diagnoseSnp(digest({ vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [4], guestFeatures: 0x21n }), release, firmware.bytes);
    expect(d.differences).toEqual(['guest features: 0x21; the release has 0x1 (debug_swap is on)']);
  });

  it('names the VMM and the vCPU type, alone or with the vCPU count', () => {
    expect(diagnoseSnp(digest({ vmm: 'ec2', vcpus: [2] }), release, firmware.bytes).differences).toEqual(['VMM: ec2; the release is for qemu']);
    expect(diagnoseSnp(digest({ vmm: 'qemu', vcpu: { type: 'EPYC-Milan' }, vcpus: [16] }), release, firmware.bytes).differences).toEqual([
      'vCPUs: 16; the release has 1, 2, 4, 8',
      'vCPU type: EPYC-Milan (signature 0xa00f11); the release is for EPYC-v4',
    ]);
  });

  it('says what was searched when nothing matches', () => {
    const d = diagnoseSnp('ab'.repeat(48), release, firmware.bytes, { maxVcpus: 8 });
    expect(d.found).toBeNull();
    expect(d.searched).toMatch(
      /^\d+ knob combinations \(VMMs qemu, ec2, gce; \d+ vCPU signatures; SEV_FEATURES \d+ single bits\) × vCPUs 1–8; none gives abababab/,
    );
  });
});
