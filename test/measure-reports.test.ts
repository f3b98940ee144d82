/**
 * The library functions behind `measure snp|tdx|pcr --json` (and the build's measure block): real
 * digests from the vectors, names reported as given and inputs hashed from the bytes, the JSON Schemas,
 * warnings returned instead of printed, and the CLI printing exactly the library object.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { expect, it, vi } from 'vitest';
import { snpMeasurement, snpSeedMeasurement, tdxMeasurement, tdShimMeasurement, pcrMeasurement } from '../src/index.js';
import { cli } from './helpers/cli.js';
import { describeShared, loadVectors, ROOT, shared } from './helpers/shared.js';

const schema = (name: string) => JSON.parse(readFileSync(resolve(ROOT, 'schemas', name), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
ajv.addSchema(schema('inspect-firmware.schema.json'));
const validator = (name: string) => ajv.compile(schema(name));
/** pcr-measure.schema.json is validated non-strict, as in test/pcr.test.ts. */
const lenient = (name: string) => new Ajv({ strict: false, allErrors: true }).compile(schema(name));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const input = (path: string, name = `named/${path.split('/').pop()}`) => ({ name, bytes: readFileSync(shared(path)) });
const cliJson = async (args: string[]) => {
  const r = await cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as unknown;
};

const DEBIAN = 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-';
const KERNEL = 'fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64';

describeShared('snpMeasurement / snpSeedMeasurement', () => {
  const v = loadVectors<{ cases: { id: string; expected: { digest?: string } }[] }>('snp');
  const digest = (id: string) => v.cases.find((c) => c.id === id)!.expected.digest;
  const validate = validator('snp-measurement.schema.json');

  it('several vCPU counts in one call match sev-snp-measure; the firmware is named as given and hashed from its bytes', () => {
    const firmware = input(`${DEBIAN}OVMF.fd`);
    const j = snpMeasurement({ firmware }, { vcpu: { type: 'EPYC-v4' }, vcpus: [1, 2, 4, 16] });
    expect(validate(j), ajv.errorsText(validate.errors)).toBe(true);
    expect(j.digests).toEqual(Object.fromEntries([1, 2, 4, 16].map((n) => [String(n), digest(`snp-qemu-bookworm-EPYC-v4-${n}vcpu`)])));
    expect(j.firmware).toMatchObject({ path: firmware.name, sha256: '7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773', gpa: '0xffe00000' });
    expect(j.warnings).toEqual([]);
  });

  it('measured direct boot: kernel, initrd and command line by name, their SHA-256 from the bytes', () => {
    const [kernel, initrd] = [input(KERNEL), input('fixtures/tiny-initrd.cpio.gz')];
    const cmdline = 'console=ttyS0 root=/dev/vda1 ro';
    const j = snpMeasurement(
      { firmware: input('fixtures/sev-snp-measure/ovmf_AmdSev_suffix.bin'), kernel, initrd, cmdline },
      { vcpu: { type: 'EPYC-Milan' }, vcpus: [4] },
    );
    expect(j.digests['4']).toBe(digest('snp-qemu-amdsev-kernel-initrd-append-4vcpu-Milan'));
    expect(j.directBoot).toMatchObject({
      kernel: kernel.name,
      initrd: initrd.name,
      cmdline,
      kernelSha256: sha256(kernel.bytes),
      initrdSha256: sha256(initrd.bytes),
    });
  });

  it('firmware without SEV metadata: the warning is returned, nothing is printed', () => {
    const stderr = vi.spyOn(process.stderr, 'write');
    const j = snpMeasurement({ firmware: input(`${DEBIAN}OVMF_CODE_4M.fd`) }, { vcpu: { type: 'EPYC-v4' } });
    expect(j.digests['1']).toBe(digest('snp-qemu-bookworm-OVMF_CODE_4M-nometadata-1vcpu'));
    expect(j.warnings).toEqual([expect.stringMatching(/^firmware has NO SEV metadata \(footer entry dc886566-984a-4798-a75e-5585a7bf67cc\)/)]);
    expect(stderr).not.toHaveBeenCalled();
    stderr.mockRestore();
  });

  it('the seed is sev-snp-measure --mode snp:ovmf-hash', () => {
    const j = snpSeedMeasurement({ firmware: input('fixtures/sev-snp-measure/ovmf_AmdSev_suffix.bin') });
    expect(validate(j), ajv.errorsText(validate.errors)).toBe(true);
    expect(j.seed).toBe(digest('snp-ovmf-hash-ovmf_AmdSev_suffix.bin'));
  });

  it('measure snp --json prints exactly the library object', async () => {
    const path = shared('fixtures/sev-snp-measure/svsm_ovmf.fd');
    const svsm = shared('fixtures/sev-snp-measure/svsm.bin');
    const lib = snpMeasurement(
      { firmware: { name: path, bytes: readFileSync(path) }, svsm: { name: svsm, bytes: readFileSync(svsm), varsSize: 540672 } },
      { vcpu: { type: 'EPYC-Milan' }, vcpus: [4] },
    );
    expect(lib.digests['4']).toBe(digest('snp-svsm-qemu-4vcpu-Milan'));
    expect(await cliJson(['measure', 'snp', '--firmware', path, '--svsm', svsm, '--vars-size', '540672', '--vcpu-type', 'EPYC-Milan', '--vcpus', '4'])).toEqual(
      lib,
    );
  });
});

describeShared('tdxMeasurement', () => {
  const v = loadVectors<{ vectors: { id: string; input: Record<string, string>; expected: Record<string, string> }[] }>('tdx');
  const vector = (id: string) => v.vectors.find((x) => x.id === id)!;
  const expected = (id: string) => vector(id).expected;
  const validate = validator('tdx-measure.schema.json');

  it('MRTD for both page orders (vectors), the firmware named as given', () => {
    const firmware = input(`${DEBIAN}OVMF.fd`);
    for (const [pageOrder, key] of [
      ['single', 'mrtd_single_pass'],
      ['two-pass', 'mrtd_two_pass'],
    ] as const) {
      const j = tdxMeasurement({ firmware }, { pageOrder });
      expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
      expect(j.mrtd).toBe(expected('debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd')[key]);
      expect(j.firmware).toMatchObject({ path: firmware.name, size: firmware.bytes.length, sha256: sha256(firmware.bytes) });
      expect(j.rtmr).toBeUndefined();
    }
  });

  it('measure tdx --json with a direct boot prints exactly the library object', async () => {
    const [fw, kernel, initrd] = [`${DEBIAN}OVMF.fd`, KERNEL, 'fixtures/pcr/initrd-a.cpio'].map((p) => ({ name: shared(p), bytes: readFileSync(shared(p)) }));
    const lib = tdxMeasurement({ firmware: fw!, kernel, initrd, cmdline: 'console=hvc0' }, { memMiB: 4096, qemuVersion: '10.2' });
    expect(validate(lib), JSON.stringify(validate.errors)).toBe(true);
    expect(lib.boot).toEqual({ shape: 'direct', qemuVersion: '10.2', setupHeaderPatched: false, memMiB: 4096, measuredCmdline: 'console=hvc0 initrd=initrd' });
    const args = [
      '--firmware',
      fw!.name,
      '--kernel',
      kernel!.name,
      '--initrd',
      initrd!.name,
      '--append',
      'console=hvc0',
      '--mem',
      '4096',
      '--qemu-version',
      '10.2',
    ];
    expect(await cliJson(['measure', 'tdx', ...args])).toEqual(lib);
  });

  it('tdShimMeasurement: the published parameter hash, the shim MRTD, and measure td-shim-payload --json prints the same object', async () => {
    const p = vector('td-shim-payload-param');
    const shim = { name: shared('fixtures/tdx/gce-clean-example-2MiB.fd'), bytes: readFileSync(shared('fixtures/tdx/gce-clean-example-2MiB.fd')) };
    const lib = tdShimMeasurement({ param: p.input.param, shim }, { paramSize: Number(p.input.size) });
    expect(lib).toEqual({
      kind: 'td-shim',
      origin: 'predicted',
      param: { value: p.input.param, paramSize: 0x1000, sha384: p.expected.sha384 },
      shim: { path: shim.name, mrtd: expected('gce-clean-example-2MiB').mrtd_single_pass },
    });
    expect(await cliJson(['measure', 'td-shim-payload', '--param', p.input.param!, '--param-size', p.input.size!, '--shim', shim.name])).toEqual(lib);
  });
});

describeShared('pcrMeasurement', () => {
  const v = loadVectors<{ vectors: { name: string; pcrs: Record<string, Record<string, string>> }[] }>('pcr');
  const pcrs = (name: string) => v.vectors.find((x) => x.name === name)!.pcrs;
  const validate = lenient('pcr-measure.schema.json');
  const vars = input(`${DEBIAN}OVMF_VARS_4M.fd`);

  it('direct boot: PCR4/5/9 of the real boot in every bank; inputs named as given', () => {
    const [kernel, initrd] = [input(KERNEL), input('fixtures/pcr/initrd-a.cpio')];
    const j = pcrMeasurement({ shape: 'direct', kernel, initrd, cmdline: 'console=ttyS0 panic=-1', vars }, { memMiB: 1024 });
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    for (const alg of ['sha1', 'sha256', 'sha384'])
      for (const i of ['4', '5', '9']) expect({ alg, i, v: j.pcrs[alg as 'sha1']![i] }).toEqual({ alg, i, v: pcrs('direct-6.1-tcg')[alg]![i] });
    expect(j.boot).toMatchObject({
      shape: 'direct',
      secureBoot: false,
      kernel: { path: kernel.name, size: kernel.bytes.length, digests: { sha256: sha256(kernel.bytes) } },
      memMiB: 1024,
      machine: 'q35',
      setupHeaderPatched: true,
    });
  });

  it('measure pcr --json (UKI on a GPT disk) prints exactly the library object', async () => {
    const [uki, gpt] = ['fixtures/pcr/uki-6.1.efi', 'fixtures/pcr/uki-disk-gpt-head.bin'].map((p) => ({ name: shared(p), bytes: readFileSync(shared(p)) }));
    const lib = pcrMeasurement({ shape: 'uki', uki: uki!, gpt: gpt!.bytes }, { banks: ['sha256', 'sha256'] });
    expect(Object.keys(lib.pcrs)).toEqual(['sha256']);
    for (const i of ['4', '5', '11']) expect(lib.pcrs.sha256![i]).toBe(pcrs('uki-6.1-tcg').sha256![i]);
    expect(await cliJson(['measure', 'pcr', '--boot', 'uki', '--uki', uki!.name, '--gpt', gpt!.name, '--banks', 'sha256'])).toEqual(lib);
  });
});
