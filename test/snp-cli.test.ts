/**
 * `measure snp` beyond single vectors: many vCPU counts in one pass (checked against the vectors'
 * per-count digests), --json validated against schemas/snp-measurement.schema.json, the seed round
 * trip, quirks reported in the resolved parameters, and usage errors.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { expect, it } from 'vitest';
import { snpLaunchDigests } from '../src/measure/snp/launch.js';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT, describeShared, loadVectors, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

interface Case {
  id: string;
  argv: string[];
  expected: { exit_code: number; digest?: string };
}
interface Vectors {
  inputs: Record<string, { path: string; sha256: string }>;
  cases: Case[];
}

const schema = (name: string) => JSON.parse(readFileSync(resolve(ROOT, 'schemas', name), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addSchema(schema('inspect-firmware.schema.json'));
const validate = ajv.compile(schema('snp-measurement.schema.json'));

interface SnpJson {
  kind: string;
  mode: string;
  digests: Record<string, string>;
  seed: string | null;
  quirks: { ec2Rdx: string; qemuFpu: string; vmsaGpaBits: number };
  vmsa: { gpa: string | null; rdx: string; mxcsr: string; fcw: string; sevFeatures: string; layout: string };
  firmware: { sha256: string; size: number; sevMetadata: { sections: unknown[] } | null };
  measuredSections: { type: string; pageType: string }[];
  vcpu: { type: string | null; signature: string } | null;
  warnings: string[];
}

describeShared('measure snp CLI', () => {
  const v = loadVectors<Vectors>('snp');
  const path = (name: string) => shared(v.inputs[name]!.path);
  const OVMF = path('debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  const AMDSEV = path('ovmf_AmdSev_suffix.bin');
  const KERNEL = path('debian-bookworm-vmlinuz-6.1.0-56-amd64');
  const INITRD = path('tiny-initrd.cpio.gz');
  const digestOf = (id: string) => {
    const c = v.cases.find((x) => x.id === id);
    if (!c?.expected.digest) throw new Error(`no vector ${id}`);
    return c.expected.digest;
  };
  const json = async (args: string[]): Promise<SnpJson> => {
    const r = await cli(['measure', 'snp', ...args, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as SnpJson;
    expect(validate(out), ajv.errorsText(validate.errors)).toBe(true);
    expect(out.kind).toBe('snp');
    return out;
  };

  it.each([
    ['qemu', ['--vcpu-type', 'EPYC-v4'], 'snp-qemu-bookworm-EPYC-v4-%dvcpu', [1, 2, 4, 16, 64, 255]],
    ['ec2', [], 'snp-ec2-bookworm-%dvcpu', [1, 2, 4, 16, 64]],
    ['gce', [], 'snp-gce-bookworm-%dvcpu', [1, 2, 4, 16, 64]],
  ] as const)('one pass over 1-255 vCPUs (%s) equals each per-count vector', async (vmm, extra, id, counts) => {
    const out = await json(['--firmware', OVMF, '--vmm', vmm.toUpperCase(), ...extra, '--vcpus', '1-255']);
    expect(Object.keys(out.digests)).toHaveLength(255);
    for (const n of counts) expect(out.digests[String(n)], `${vmm} ${n}`).toBe(digestOf(id.replace('%d', String(n))));
  });

  it("the package entry exports the library API (import { snpLaunchDigest } from 'cvm-measure')", async () => {
    const pkg = 'cvm-measure';
    const lib = (await import(pkg)) as typeof import('../src/index.js');
    const firmware = readFileSync(OVMF);
    expect(toHex(lib.snpLaunchDigest({ firmware, vcpu: { type: 'EPYC-Genoa' }, vcpus: 4 }))).toBe(digestOf('snp-qemu-bookworm-EPYC-Genoa-4vcpu'));
    expect(toHex(lib.snpLaunchDigests({ firmware, vmm: 'gce', vcpus: [2, 16] }).digests.get(16)!)).toBe(digestOf('snp-gce-bookworm-16vcpu'));
  });

  it('several counts print "VCPUS DIGEST" lines in the chosen encoding', async () => {
    const r = await cli(['measure', 'snp', '--firmware', OVMF, '--vcpu-type', 'EPYC-Milan', '--vcpus', '4,1-2', '--output-format', 'base64']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['1', '2', '4']);
    expect(lines[2]).toBe(`4 ${Buffer.from(digestOf('snp-qemu-bookworm-EPYC-Milan-4vcpu'), 'hex').toString('base64')}`);
  });

  it('SEV-ES counts share one hash pass (Hash.copy) and equal single runs', () => {
    const firmware = readFileSync(OVMF);
    const many = snpLaunchDigests({ firmware, mode: 'sev-es', vcpu: { type: 'EPYC-v4' }, vcpus: [1, 3, 4] });
    expect(toHex(many.digests.get(1)!)).toBe(digestOf('seves-qemu-bookworm-EPYC-v4-1vcpu'));
    expect(toHex(many.digests.get(4)!)).toBe(digestOf('seves-qemu-bookworm-EPYC-v4-4vcpu'));
    const three = snpLaunchDigests({ firmware, mode: 'sev-es', vcpu: { type: 'EPYC-v4' }, vcpus: [3] });
    expect(many.digests.get(3)).toEqual(three.digests.get(3));
  });

  it('--json reports the resolved parameters, firmware and seed (direct boot, AmdSev)', async () => {
    const out = await json([
      '--firmware',
      AMDSEV,
      '--vcpu-type',
      'EPYC-v4',
      '--vcpus',
      '1',
      '--kernel',
      KERNEL,
      '--initrd',
      INITRD,
      '--append',
      'console=ttyS0 root=/dev/vda1 ro',
    ]);
    expect(out.digests).toEqual({ '1': digestOf('snp-qemu-amdsev-kernel-initrd-append-1vcpu') });
    expect(out.seed).toBe(digestOf('snp-ovmf-hash-ovmf_AmdSev_suffix.bin'));
    expect(out.firmware.sha256).toBe(v.inputs['ovmf_AmdSev_suffix.bin']!.sha256);
    expect(out.vcpu).toEqual({ type: 'EPYC-v4', signature: '0x800f12' });
    expect(out.quirks).toEqual({ ec2Rdx: '0x600', qemuFpu: 'sev-init2', vmsaGpaBits: 48 });
    expect(out.vmsa).toMatchObject({ gpa: '0xfffffffff000', rdx: '0x800f12', mxcsr: '0x1f80', fcw: '0x37f', sevFeatures: '0x1' });
    expect(out.measuredSections.find((s) => s.type === 'SNP_KERNEL_HASHES')!.pageType).toBe('NORMAL');
    expect(out.measuredSections).toHaveLength(out.firmware.sevMetadata!.sections.length);
  });

  it('EC2 measures the CPUID page last and GCE adds SNP_SEC_MEM as UNMEASURED', async () => {
    const ec2 = await json([
      '--firmware',
      AMDSEV,
      '--vmm',
      'ec2',
      '--vcpus',
      '2',
      '--kernel',
      KERNEL,
      '--initrd',
      INITRD,
      '--append',
      'console=ttyS0 root=/dev/vda1 ro',
    ]);
    expect(ec2.digests['2']).toBe(digestOf('snp-ec2-amdsev-kernel-initrd-append-2vcpu'));
    expect(ec2.measuredSections.at(-1)!.pageType).toBe('CPUID');
    expect(ec2.vcpu).toBeNull();
    const gce = await json([
      '--firmware',
      AMDSEV,
      '--vmm',
      'gce',
      '--vcpus',
      '2',
      '--kernel',
      KERNEL,
      '--initrd',
      INITRD,
      '--append',
      'console=ttyS0 root=/dev/vda1 ro',
    ]);
    expect(gce.digests['2']).toBe(digestOf('snp-gce-amdsev-kernel-initrd-append-2vcpu'));
    expect(gce.measuredSections.filter((s) => s.type === 'SNP_SEC_MEM').every((s) => s.pageType === 'UNMEASURED')).toBe(true);
  });

  it('sev, sev-es, svsm and --print-seed JSON validate too', async () => {
    const sev = await json(['--firmware', OVMF, '--mode', 'sev']);
    expect(sev.digests['1']).toBe(digestOf('sev-bookworm'));
    expect(sev.seed).toBeNull();
    const es = await json(['--firmware', OVMF, '--mode', 'sev-es', '--vmm', 'ec2', '--vcpus', '2']);
    expect(es.digests['2']).toBe(digestOf('seves-ec2-bookworm-2vcpu'));
    const svsmArgs = ['--firmware', path('svsm_ovmf.fd'), '--svsm', path('svsm.bin'), '--vars-size', '540672'];
    const svsm = await json([...svsmArgs, '--vcpu-type', 'EPYC-v4', '--vcpus', '1,2,4']);
    expect(svsm.digests).toEqual({ '1': digestOf('snp-svsm-qemu-1vcpu'), '2': digestOf('snp-svsm-qemu-2vcpu'), '4': digestOf('snp-svsm-qemu-4vcpu') });
    expect(svsm.vmsa).toMatchObject({ layout: 'svsm', fcw: '0x0', mxcsr: '0x1f80' });
    // --vars-file takes the size of the given file (the Debian OVMF_VARS_4M.fd is 540672 bytes too).
    const varsFile = shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.fd');
    const viaFile = await json([
      '--firmware',
      path('svsm_ovmf.fd'),
      '--svsm',
      path('svsm.bin'),
      '--vars-file',
      varsFile,
      '--vcpu-type',
      'EPYC-v4',
      '--vcpus',
      '4',
    ]);
    expect(viaFile.digests['4']).toBe(digestOf('snp-svsm-qemu-4vcpu'));
    const seed = await json(['--firmware', OVMF, '--print-seed']);
    expect(seed.digests).toEqual({});
    expect(seed.seed).toBe(digestOf('snp-ovmf-hash-debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'));
  });

  it('--seed skips the firmware pages: print-seed then seed reproduces the full digest (also with an SVSM)', async () => {
    const svsmArgs = ['--firmware', path('svsm_ovmf.fd'), '--svsm', path('svsm.bin'), '--vars-size', '540672'];
    const s = await cli(['measure', 'snp', ...svsmArgs, '--print-seed']);
    const r = await cli(['measure', 'snp', ...svsmArgs, '--vcpu-type', 'EPYC-Milan', '--vcpus', '4', '--seed', s.stdout.trim()]);
    expect(r.stdout).toBe(`${digestOf('snp-svsm-qemu-4vcpu-Milan')}\n`);
    const wrong = await cli(['measure', 'snp', '--firmware', OVMF, '--vcpu-type', 'EPYC-v4', '--vcpus', '1', '--seed', 'abcd']);
    expect(wrong.code).toBe(1);
    expect(errorLine(wrong)).toMatch(/--seed: expected 48 bytes, got 2/);
  });

  it('quirks are explicit parameters and show in the resolved VMSA', async () => {
    const base = ['--firmware', OVMF, '--vcpus', '2'];
    const ec2 = await json([...base, '--vmm', 'ec2', '--quirk', 'ec2-rdx=0']);
    expect(ec2.quirks.ec2Rdx).toBe('0x0');
    expect(ec2.vmsa.rdx).toBe('0x0');
    expect(ec2.digests['2']).not.toBe(digestOf('snp-ec2-bookworm-2vcpu'));
    const fpu = await json([...base, '--vcpu-type', 'EPYC-Milan', '--quirk', 'qemu-fpu=sev-init']);
    expect(fpu.vmsa).toMatchObject({ mxcsr: '0x0', fcw: '0x0' });
    const gpa = await json([...base, '--vmm', 'gce', '--quirk', 'vmsa-gpa-bits=52']);
    expect(gpa.vmsa.gpa).toBe('0xffffffffff000');
    expect(gpa.digests['2']).not.toBe(digestOf('snp-gce-bookworm-2vcpu'));
    const bad = await cli(['measure', 'snp', ...base, '--vmm', 'gce', '--quirk', 'vmsa-gpa-bits=50']);
    expect(bad.code).toBe(2);
    expect(errorLine(bad)).toMatch(/--quirk vmsa-gpa-bits: "50" is not one of 48, 52/);
  });

  it.each([
    [['--vcpu-type', 'EPYC', '--vcpu-sig', '0x1'], 2, /give only one of --vcpu-type, --vcpu-sig/],
    [['--vcpu-family', '25'], 2, /--vcpu-family, --vcpu-model and --vcpu-stepping go together/],
    [['--vcpu-type', 'EPYC-Zen9', '--vcpus', '1'], 1, /unknown vCPU type "EPYC-Zen9"; valid types: EPYC, EPYC-v1, .*EPYC-Turin/],
    [['--vcpu-type', 'EPYC', '--append', 'x'], 2, /--append requires --kernel/],
    [['--vcpu-type', 'EPYC', '--svsm', '/dev/null'], 2, /--svsm needs exactly one of --vars-size or --vars-file/],
    [['--mode', 'sev-es', '--print-seed'], 2, /--print-seed applies to --mode snp, not sev-es/],
    [['--mode', 'tdx'], 2, /--mode: "tdx" is not one of snp, sev-es, sev/],
    [['--vmm', 'azure', '--vcpus', '1'], 2, /--vmm: "azure" is not one of qemu, ec2, gce/],
    [['--vcpu-type', 'EPYC', '--vcpus', '0'], 2, /--vcpus: expected an integer in \[1, 4096\]/],
    [['--vcpu-type', 'EPYC', '--vcpus', '1', '--mode', 'sev', '--seed', 'ab'.repeat(48)], 1, /seed .* applies to SNP only, not sev/],
  ])('usage: %j -> exit %i', async (args, code, pattern) => {
    const r = await cli(['measure', 'snp', '--firmware', OVMF, ...args]);
    expect(r.code).toBe(code);
    expect(errorLine(r)).toMatch(pattern);
  });

  it('refuses to guess the vCPU count (the digest depends on it), as sev-snp-measure', async () => {
    const given = await cli(['measure', 'snp', '--firmware', OVMF, '--vcpu-type', 'EPYC-v4', '--vcpus', '1']);
    const missing = await cli(['measure', 'snp', '--firmware', OVMF, '--vcpu-type', 'EPYC-v4']);
    expect([given.code, missing.code, missing.stdout]).toEqual([0, 2, '']);
    expect(errorLine(missing)).toBe('cvm-measure: error: missing --vcpus: the digest differs per vCPU count (e.g. --vcpus 2 or --vcpus 1,2,4)');
  });

  it('defaults that enter the digest are noted once on stderr and listed as `defaults`; none when all are given', async () => {
    const base = ['measure', 'snp', '--firmware', OVMF, '--vcpu-type', 'EPYC-v4', '--vcpus', '2', '--json'];
    const implicit = await cli(base);
    expect(implicit.stderr).toBe(
      'cvm-measure: note: measured with defaults mode=snp, vmm=qemu, guestFeatures=0x1, quirks.vmsaGpaBits=48, quirks.qemuFpu=sev-init2 (give them to silence this note)\n',
    );
    expect(JSON.parse(implicit.stdout).defaults).toEqual({
      mode: 'snp',
      vmm: 'qemu',
      guestFeatures: '0x1',
      'quirks.vmsaGpaBits': 48,
      'quirks.qemuFpu': 'sev-init2',
    });
    const given = ['--mode', 'snp', '--vmm', 'qemu', '--guest-features', '0x1', '--quirk', 'vmsa-gpa-bits=48', '--quirk', 'qemu-fpu=sev-init2'];
    const explicit = await cli([...base, ...given]);
    expect([explicit.stderr, JSON.parse(explicit.stdout).defaults]).toEqual(['', {}]);
    expect(JSON.parse(explicit.stdout).digests).toEqual(JSON.parse(implicit.stdout).digests);
  });

  it('a missing firmware file is a one-line error', async () => {
    const r = await cli(['measure', 'snp', '--firmware', '/nonexistent/OVMF.fd', '--vcpu-type', 'EPYC', '--vcpus', '1']);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toBe('cvm-measure: error: cannot read firmware /nonexistent/OVMF.fd: ENOENT');
  });

  it('--help lists the flags and examples', async () => {
    const r = await cli(['measure', 'snp', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--firmware',
      '--mode',
      '--vcpus',
      '--vcpu-type',
      '--vcpu-sig',
      '--vcpu-family',
      '--vmm',
      '--guest-features',
      '--kernel',
      '--initrd',
      '--append',
      '--svsm',
      '--vars-size',
      '--vars-file',
      '--seed',
      '--print-seed',
      '--output-format',
      '--json',
      '--quirk',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('Examples:');
  });
});
