/**
 * SNP bench: one digest vs all counts 1-512 per VMM (whole process, with the ratio), the same in
 * process, page hashing with node:crypto vs @noble/hashes, and sev-snp-measure itself when
 * $CVM_SNP_ORACLE points at its checkout (ssm/).
 */
import { createHash, hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sha384 } from '@noble/hashes/sha2.js';
import { snpLaunchDigests } from '../../src/measure/snp/launch.js';
import type { BenchCase } from './harness.js';

function sharedDir(): string | undefined {
  const candidates = [process.env.CVM_SHARED, resolve(import.meta.dirname, '../../../shared')].filter((p): p is string => Boolean(p));
  return candidates.find((p) => existsSync(join(p, 'vectors')));
}

export function snpCases(): BenchCase[] {
  const shared = sharedDir();
  if (!shared) {
    process.stderr.write('bench: snp cases SKIPPED (no ../shared or $CVM_SHARED)\n');
    return [];
  }
  const ovmfPath = join(shared, 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  const firmware = readFileSync(ovmfPath);
  const all = Array.from({ length: 512 }, (_, i) => i + 1);
  const ONE = 'snp: one digest (qemu, 1 vCPU)';
  const vcpuArgs = { qemu: ['--vcpu-type', 'EPYC-v4'], ec2: [], gce: [] } as const;

  const cases: BenchCase[] = [
    {
      name: ONE,
      cli: ['measure', 'snp', '--firmware', ovmfPath, '--vcpu-type', 'EPYC-v4', '--vcpus', '1'],
      runs: 21,
      fn: () => snpLaunchDigests({ firmware, vcpu: { type: 'EPYC-v4' } }),
    },
    ...(['qemu', 'ec2', 'gce'] as const).map(
      (vmm): BenchCase => ({
        name: `snp: --vcpus 1-512 (${vmm})`,
        cli: ['measure', 'snp', '--firmware', ovmfPath, '--vmm', vmm, ...vcpuArgs[vmm], '--vcpus', '1-512'],
        fn: () => snpLaunchDigests({ firmware, vmm, vcpu: vmm === 'qemu' ? { type: 'EPYC-v4' } : undefined, vcpus: all }),
        relativeTo: ONE,
      }),
    ),
    {
      name: 'sev-es: --vcpus 1-512 (qemu)',
      cli: ['measure', 'snp', '--mode', 'sev-es', '--firmware', ovmfPath, '--vcpu-type', 'EPYC-v4', '--vcpus', '1-512'],
      fn: () => snpLaunchDigests({ firmware, mode: 'sev-es', vcpu: { type: 'EPYC-v4' }, vcpus: all }),
      relativeTo: ONE,
    },
    {
      name: `snp page hashing: node:crypto (${firmware.length / 4096} pages)`,
      fn: () => {
        for (let o = 0; o < firmware.length; o += 4096) hash('sha384', firmware.subarray(o, o + 4096), 'buffer');
      },
    },
    {
      name: 'snp page hashing: node:crypto createHash',
      fn: () => {
        for (let o = 0; o < firmware.length; o += 4096)
          createHash('sha384')
            .update(firmware.subarray(o, o + 4096))
            .digest();
      },
    },
    {
      name: 'snp page hashing: @noble/hashes',
      fn: () => {
        for (let o = 0; o < firmware.length; o += 4096) sha384(firmware.subarray(o, o + 4096));
      },
    },
  ];

  const oracle = process.env.CVM_SNP_ORACLE && join(process.env.CVM_SNP_ORACLE, 'ssm/sev-snp-measure.py');
  if (oracle && existsSync(oracle)) {
    const ref = ['/usr/bin/python3', oracle, '--mode', 'snp', '--ovmf', ovmfPath, '--vcpu-type', 'EPYC-v4'];
    cases.push(
      { name: 'sev-snp-measure 0.0.13: one digest', command: [...ref, '--vcpus', '1'], relativeTo: ONE, runs: 21 },
      { name: 'sev-snp-measure 0.0.13: 512 vCPUs (one count)', command: [...ref, '--vcpus', '512'], relativeTo: ONE },
    );
  } else {
    process.stderr.write('bench: sev-snp-measure reference cases skipped (set CVM_SNP_ORACLE)\n');
  }
  return cases;
}
