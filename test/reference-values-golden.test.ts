/**
 * Golden output of the per-platform mapping from measurements to signed reference values: the canonical
 * reference-values bytes for real measurements of the shared fixtures (SNP on three VMMs, TDX with a
 * direct boot, PCR direct and UKI). Recorded before the typed contract replaced the field-spelling
 * adapter; a change here changes what every manifest signs, so it must be deliberate.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { canonicalReferenceValues, referenceValuesFrom } from '../src/manifest/model.js';
import { snpMeasurement } from '../src/measure/snp/report.js';
import { tdxMeasurement } from '../src/measure/tdx/report.js';
import { pcrMeasurement } from '../src/measure/tpm/report.js';
import { describeShared, shared } from './helpers/shared.js';

const file = (...p: string[]) => ({ name: p[p.length - 1]!, bytes: new Uint8Array(readFileSync(shared('fixtures', ...p))) });
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describeShared('reference values: golden canonical bytes', () => {
  const ovmf = file('debian', 'debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  const kernel = file('debian', 'debian-bookworm-vmlinuz-6.1.0-56-amd64');
  const initrd = file('tiny-initrd.cpio.gz');
  const measurements = () => [
    snpMeasurement({ firmware: ovmf }, { vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [1, 2, 4] }),
    snpMeasurement(
      { firmware: file('sev-snp-measure', 'ovmf_AmdSev_suffix.bin'), kernel, initrd, cmdline: 'console=ttyS0' },
      { vmm: 'qemu', vcpu: { type: 'EPYC-Milan' }, vcpus: [2], guestFeatures: 0x21n },
    ),
    snpMeasurement(
      { firmware: file('sev-snp-measure', 'svsm_ovmf.fd'), svsm: { ...file('sev-snp-measure', 'svsm.bin'), varsSize: 0x20000 } },
      { vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [1] },
    ),
    snpMeasurement({ firmware: ovmf }, { vmm: 'ec2', vcpus: [1] }),
    tdxMeasurement({ firmware: ovmf, kernel, initrd, cmdline: 'console=hvc0' }, { memMiB: 2048 }),
    pcrMeasurement({ shape: 'direct', kernel, initrd: file('pcr', 'initrd-a.cpio'), cmdline: 'console=ttyS0' }, { memMiB: 1024 }),
    pcrMeasurement({ shape: 'uki', uki: file('pcr', 'uki-6.1.efi'), gpt: file('pcr', 'uki-disk-gpt-head.bin').bytes }),
  ];
  const GOLDEN = [
    '46464e866b913f633c93e3ba43d2c9a37ab0199ffbf6fb6b5d8f9dc38e47eff9',
    '7e8e4edb70aec17a1b1e9ec7eb09e37c73c0f96ef073465bf8d3fc309ec3820b',
    '3b31226c3dfec8ff79940da626416864909f0dab576a383915b741ba4469d557',
    'de3a67baa53aaf01d7200367e9d8be4a8203ff7021eff945de148ade5ade485f',
    '2e61f0afe29377e3cf1d7a9bd9fdd0c51f81aca2f5c2750ef1c1992e8126e4bb',
    '371a6a090f7ef5cc4b4a05cb241e792b30d2b8ae6f256f26fbbf729be8162d91',
    '9a0d0d10e6bf0ce24fb36264a6ded52426d0495313ef5db3599e8c2d90a205f1',
  ];

  it('each platform maps to the same signed bytes as recorded', () => {
    const got = measurements().map((m) => sha(canonicalReferenceValues(referenceValuesFrom(m))));
    expect(got).toEqual(GOLDEN);
  });

  it('a UKI declared to boot without a GPT signs that (boot.gpt: none); one with a disk signs its GPT', () => {
    const uki = file('pcr', 'uki-6.1.efi');
    const [noDisk] = referenceValuesFrom(pcrMeasurement({ shape: 'uki', uki, gpt: null })).pcr;
    expect(noDisk!.parameters).toMatchObject({ 'boot.shape': 'uki', 'boot.gpt': 'none' });
    const [withDisk] = referenceValuesFrom(pcrMeasurement({ shape: 'uki', uki, gpt: file('pcr', 'uki-disk-gpt-head.bin').bytes })).pcr;
    expect(withDisk!.parameters['boot.gpt']).toBeUndefined();
    expect(withDisk!.parameters['boot.gpt.diskGuid']).toBe('11111111-2222-3333-4444-555555555555');
  });
});
