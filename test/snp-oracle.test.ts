/**
 * Extra cross-checks against virtee/sev-snp-measure run as an oracle (never copied): parameter
 * combinations the shared vectors do not cover, and the version quirks against the reference
 * versions that had the old behaviour. Needs $CVM_SNP_ORACLE holding checkouts of that repository:
 * ssm/ at 8f2b337e (0.0.13), ssm-9639a3b/ (EC2 RDX 0) and ssm-84dff98/ (VMSA before KVM_SEV_INIT2),
 * and /usr/bin/python3 with python3-cryptography. Skipped loudly otherwise.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { snpLaunchDigests, type LaunchParams } from '../src/measure/snp/launch.js';
import { SHARED } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

const ORACLE = process.env.CVM_SNP_ORACLE;
const ready = Boolean(ORACLE && SHARED && existsSync(join(ORACLE, 'ssm/sev-snp-measure.py')));
if (!ready) process.stderr.write('\n*** SKIPPED sev-snp-measure oracle cross-checks: set CVM_SNP_ORACLE (see test/snp-oracle.test.ts) ***\n');

(ready ? describe : describe.skip)('sev-snp-measure as oracle', () => {
  const fx = (p: string) => resolve(SHARED!, 'fixtures', p);
  const OVMF = fx('debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  const AMDSEV = fx('sev-snp-measure/ovmf_AmdSev_suffix.bin');
  const KERNEL = fx('debian/debian-bookworm-vmlinuz-6.1.0-56-amd64');
  const INITRD = fx('tiny-initrd.cpio.gz');
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest();

  const reference = (version: string, args: string[]) =>
    execFileSync('/usr/bin/python3', [join(ORACLE!, version, 'sev-snp-measure.py'), ...args], { encoding: 'utf8' }).trim();

  interface Combo {
    mode: 'snp' | 'sev-es';
    vmm: 'qemu' | 'ec2' | 'gce';
    firmware: string;
    vcpuType?: string;
    gf?: string;
    kernel?: boolean;
  }
  const combos: Combo[] = [
    { mode: 'snp', vmm: 'qemu', firmware: OVMF, vcpuType: 'EPYC-Rome-v3', gf: '0x21' },
    { mode: 'snp', vmm: 'qemu', firmware: AMDSEV, vcpuType: 'EPYC-Turin', gf: '0x3', kernel: true },
    { mode: 'snp', vmm: 'gce', firmware: AMDSEV, gf: '0x21' },
    { mode: 'snp', vmm: 'ec2', firmware: OVMF, gf: '0x3' },
    { mode: 'sev-es', vmm: 'qemu', firmware: AMDSEV, vcpuType: 'EPYC-Genoa', kernel: true },
    { mode: 'sev-es', vmm: 'gce', firmware: OVMF },
    { mode: 'sev-es', vmm: 'ec2', firmware: AMDSEV, kernel: true },
  ];
  const COUNTS = [1, 3, 7];

  const params = (c: Combo, counts: number[]): LaunchParams => ({
    firmware: readFileSync(c.firmware),
    mode: c.mode,
    vmm: c.vmm,
    vcpus: counts,
    vcpu: c.vcpuType ? { type: c.vcpuType } : undefined,
    guestFeatures: c.gf ? BigInt(c.gf) : undefined,
    directBoot: c.kernel ? { kernelSha256: sha(KERNEL), initrdSha256: sha(INITRD), cmdline: 'console=ttyS0 quiet' } : undefined,
  });
  const refArgs = (c: Combo, n: number) => [
    '--mode',
    c.mode === 'sev-es' ? 'seves' : 'snp',
    '--vcpus',
    String(n),
    '--vmm-type',
    c.vmm === 'qemu' ? 'QEMU' : c.vmm,
    '--ovmf',
    c.firmware,
    ...(c.vcpuType ? ['--vcpu-type', c.vcpuType] : []),
    ...(c.gf ? ['--guest-features', c.gf] : []),
    ...(c.kernel ? ['--kernel', KERNEL, '--initrd', INITRD, '--append', 'console=ttyS0 quiet'] : []),
  ];

  for (const c of combos) {
    it(`${c.mode} ${c.vmm} ${c.firmware.split('/').pop()} ${c.vcpuType ?? ''} gf=${c.gf ?? 'default'}${c.kernel ? ' +kernel' : ''}: vCPUs ${COUNTS.join(',')} in one pass`, () => {
      const ours = snpLaunchDigests(params(c, COUNTS));
      for (const n of COUNTS) expect(toHex(ours.digests.get(n)!), `${n} vCPUs`).toBe(reference('ssm', refArgs(c, n)));
    });
  }

  const old = (dir: string) => (existsSync(join(ORACLE ?? '', dir, 'sev-snp-measure.py')) ? it : it.skip);
  old('ssm-9639a3b')('quirk ec2Rdx=0 equals sev-snp-measure before 0.0.13 (9639a3b)', () => {
    const c: Combo = { mode: 'snp', vmm: 'ec2', firmware: AMDSEV, kernel: true };
    const ours = snpLaunchDigests({ ...params(c, [2]), quirks: { ec2Rdx: 0 } });
    expect(toHex(ours.digests.get(2)!)).toBe(reference('ssm-9639a3b', refArgs(c, 2)));
  });
  old('ssm-84dff98')('quirk qemuFpu=sev-init equals sev-snp-measure before KVM_SEV_INIT2 (84dff98)', () => {
    for (const c of [
      { mode: 'snp', vmm: 'qemu', firmware: OVMF, vcpuType: 'EPYC-Milan', gf: '0x1' },
      { mode: 'sev-es', vmm: 'qemu', firmware: AMDSEV, vcpuType: 'EPYC-v4', kernel: true },
    ] as Combo[]) {
      const ours = snpLaunchDigests({ ...params(c, [2]), quirks: { qemuFpu: 'sev-init' } });
      expect(toHex(ours.digests.get(2)!)).toBe(reference('ssm-84dff98', refArgs(c, 2)));
    }
  });
});
