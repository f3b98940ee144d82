/**
 * PCR0 and PCR1 from the OVMF image and the VM configuration: the LZMA decoder and firmware-volume parser
 * that give the PEI and DXE volumes, the PEI platform data located in PlatformPei's code, the boot options,
 * checked against the two real boots of ../shared/vectors/pcr.json (q35, -m 1024, -smp 1) in all banks.
 * Other configurations are proven by live boots in test/e2e-platform.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { FormatError, InputError } from '../src/errors.js';
import { lzmaDecompress } from '../src/formats/lzma.js';
import { ovmfMemoryVolumes, parseFirmwareVolume } from '../src/formats/firmware-volume.js';
import { parseEventLog } from '../src/formats/tcg-eventlog.js';
import { ovmfPcr0Model, platformFirmwareEvents, platformInfo } from '../src/measure/boot/index.js';
import { findPlatform, peiPlatformLayout, platformDifference } from '../src/measure/boot/platform.js';
import { pcr0Matrix } from '../src/measure/tpm/report.js';
import { guidToBytes, toHex } from '../src/util/bytes.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, ROOT, shared } from './helpers/shared.js';

const schema = (name: string) => new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8')));

const BANKS = ['sha1', 'sha256', 'sha384'] as const;
const CODE = 'debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_CODE_4M.fd';
const KERNEL = 'debian/debian-bookworm-vmlinuz-6.1.0-56-amd64';

/** Python's lzma (FORMAT_ALONE, lc3 lp0 pb2, 64 KiB dictionary) of "cvm-measure LZMA " x 20 + bytes 0..255, size patched in. */
const LZMA_VECTOR =
  '5d00000100540200000000000000319d89d9eaddd4d634b701894715243d54fa925a57624b5800649294ec53f07d2d28b2771abaf709b5f6f9bf58ce3c6a211cc492c79fe27d42bf3ea4e84ac6fcad7c0574d26c2960045d1032234b572344bd7f04024a4e6a0c161af71696b7dbce45f27f56a1c8caa15982562ccfa61127b2c87281fe2dc0ff45003ecb23c48cb5dfd7b85963c4f7cfdfc9b9de095d81a435a22965803eda7beb6c0feafff54de741142647ca261e8e34cff8b6543e4e98c9a25d4d3bfd3eca593cca2a10bf0c12830534d767c7670f20c0d8a15de929cfdca20c64494d166883e9b1516156057215589f6a636928c804023f970c06a82c2a8793d4669c1085823df60e84fffc944000';
const LZMA_PLAIN = Buffer.concat([Buffer.from('cvm-measure LZMA '.repeat(20)), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);

describe('LZMA decoder', () => {
  it('decodes an LZMA-alone stream', () => {
    expect(Buffer.from(lzmaDecompress(Buffer.from(LZMA_VECTOR, 'hex'), 1 << 20))).toEqual(LZMA_PLAIN);
  });
  it('refuses truncated data, oversize outputs, unknown sizes and bad properties', () => {
    const v = Buffer.from(LZMA_VECTOR, 'hex');
    expect(() => lzmaDecompress(v.subarray(0, 60), 1 << 20)).toThrow(FormatError);
    expect(() => lzmaDecompress(v, 100)).toThrow(/more than the 100 allowed/);
    const unknown = Buffer.from(v);
    unknown.fill(0xff, 5, 13);
    expect(() => lzmaDecompress(unknown, 1 << 20)).toThrow(/unknown uncompressed size/);
    const props = Buffer.from(v);
    props[0] = 225;
    expect(() => lzmaDecompress(props, 1 << 20)).toThrow(/properties byte/);
  });
});

describeShared('PCR0/PCR1 from the OVMF image (Debian OVMF 2022.11)', () => {
  const code = () => readFileSync(shared('fixtures', CODE));
  const V = loadVectors<{ vectors: { name: string; pcrs: Record<string, Record<string, string>> }[] }>('pcr');
  const vector = (name: string) => V.vectors.find((v) => v.name === name)!;
  const model = ovmfPcr0Model(code());
  /** The UKI booted from its GPT disk (the real boots' shape). */
  const ukiOnDisk = () => ['--boot', 'uki', '--uki', shared('fixtures', 'pcr/uki-6.1.efi'), '--gpt', shared('fixtures', 'pcr/uki-disk-gpt-head.bin')];

  it('extracts the PEI and DXE volumes and locates the PEI platform data in PlatformPei', () => {
    const { pei, dxe } = ovmfMemoryVolumes(code());
    expect([parseFirmwareVolume(pei).length, parseFirmwareVolume(dxe).length]).toEqual([0xe0000, 0xc00000]);
    expect(model.layout.peiBase).toBe(0x820000);
    expect(model.dxeBase).toBe(0x900000);
    // the HOB GUID BuildGuidDataHob passes sits elsewhere; the global starts zeroed in the image
    expect(pei.subarray(model.layout.platformInfo, model.layout.platformInfo + 0x8a).every((b) => b === 0)).toBe(true);
  });

  it('PEI and DXE blob digests equal the logged ones of the -m 1024 boot in every bank', () => {
    const log = parseEventLog(readFileSync(shared('fixtures', 'pcr/direct-6.1-m1024.eventlog.bin'))).events.filter(
      (e) => e.pcrIndex === 0 && e.typeName !== 'EV_NO_ACTION',
    );
    const predicted = platformFirmwareEvents(model, { machine: 'q35', memMiB: 1024, cpus: 1 }, BANKS);
    expect(log.slice(0, 3).map((e) => [e.typeName, toHex(e.data), e.digests])).toEqual(
      predicted.map((e) => [e.type, toHex(e.eventData!), Object.fromEntries(BANKS.map((a) => [a, toHex(e.digests[a]!)]))]),
    );
  });

  it('platform data follows the knobs: host bridge, vCPUs, maxcpus, low-RAM top', () => {
    const q = platformInfo({ machine: 'q35', memMiB: 1024, cpus: 1 });
    expect([q.hostBridgeDevId, q.bootCpus, q.maxCpus, q.s3AcpiReservedMemoryBase, q.s3AcpiReservedMemorySize, q.pciMmio32Base]).toEqual([
      0x29c0, 1, 1, 0x3ff78000, 0x88000, 0xc0000000,
    ]);
    const p = platformInfo({ machine: 'pc', memMiB: 3072, cpus: 2, maxCpus: 4 });
    expect([p.hostBridgeDevId, p.maxCpus, p.s3AcpiReservedMemorySize, p.uc32Base, p.pciMmio32Base, p.pciIoBase]).toEqual([
      0x1237, 4, 0xa0000, 0xc0000000, 0xc0000000, 0xc000,
    ]);
    // RAM above the q35 split (2816 MiB) moves the top of low RAM to 2 GiB
    expect(platformInfo({ machine: 'q35', memMiB: 4096, cpus: 1 }).s3AcpiReservedMemoryBase).toBe(0x80000000 - 0x88000);
    expect(() => platformInfo({ machine: 'q35', memMiB: 1024, cpus: 4, maxCpus: 2 })).toThrow(InputError);
  });

  it('refuses a firmware whose PEI platform data it cannot locate', () => {
    const pei = Buffer.from(model.volumes.pei);
    const guid = guidToBytes('222c386d-5abc-4fb4-b124-fbb82488acf4');
    const at = pei.indexOf(Buffer.from(guid));
    expect(at).toBeGreaterThan(0);
    pei[at] = pei[at]! ^ 0xff;
    expect(() => peiPlatformLayout(pei)).toThrow(/PEI platform data layout not understood \(no PlatformPei/);
    expect(() => ovmfPcr0Model(new Uint8Array(0x10000))).toThrow(/not an OVMF flash image/);
  });

  it('measure pcr --firmware predicts PCR0 and PCR1 of both real boots in all banks', async () => {
    const fw = ['--firmware', shared('fixtures', CODE), '--mem', '1024', '--machine', 'q35', '--smp', '1'];
    const runs = {
      'direct-6.1-tcg': [
        '--boot',
        'direct',
        '--kernel',
        shared('fixtures', KERNEL),
        '--initrd',
        shared('fixtures', 'pcr/initrd-a.cpio'),
        '--append',
        'console=ttyS0 panic=-1',
      ],
      'uki-6.1-tcg': [...ukiOnDisk(), '--disk-pci', '1'],
    };
    for (const [name, args] of Object.entries(runs)) {
      const r = await cli(['measure', 'pcr', ...args, ...fw, '--json']);
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      for (const bank of BANKS)
        for (const pcr of ['0', '1']) expect({ name, bank, pcr, v: out.pcrs[bank][pcr] }).toEqual({ name, bank, pcr, v: vector(name).pcrs[bank]![pcr] });
      expect(Object.keys(out.notPredicted)).toEqual(['10']);
      expect(out.boot.platform).toMatchObject({ machine: 'q35', memMiB: 1024, cpus: 1, maxCpus: 1 });
      const validate = schema('pcr-measure.schema.json');
      expect(validate(out), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it('the PCR0 matrix covers every combination in one pass and agrees with the single prediction', () => {
    const m = pcr0Matrix(model, { machines: ['q35'], memMiB: [1024, 2048], cpus: [1, 2, 4], maxCpus: [4, 8] }, ['sha256']);
    expect(m).toHaveLength(2 * 3 * 2);
    expect(m.find((a) => a.memMiB === 1024 && a.cpus === 1 && a.maxCpus === 4)).toBeDefined();
    const one = pcr0Matrix(model, { machines: ['q35'], memMiB: [1024], cpus: [1], maxCpus: [] }, BANKS)[0]!;
    for (const bank of BANKS) expect(one.pcr0[bank]).toBe(vector('direct-6.1-tcg').pcrs[bank]!['0']);
    expect(new Set(m.map((a) => a.pcr0.sha256)).size).toBe(m.length);
  });

  it('CLI: usage errors for VM knobs without --firmware and bad -smp / --disk-pci', async () => {
    const base = ['measure', 'pcr', '--boot', 'uki', '--uki', shared('fixtures', 'pcr/uki-6.1.efi')];
    expect(errorLine(await cli([...base, '--smp', '2']))).toMatch(/give --firmware too/);
    expect(errorLine(await cli([...base, '--firmware', shared('fixtures', CODE), '--smp', '2,max=4']))).toMatch(/--smp/);
    expect(errorLine(await cli([...base, '--firmware', shared('fixtures', CODE), '--disk-pci', '40']))).toMatch(/--disk-pci/);
    expect(errorLine(await cli([...base, '--vcpus', '1-4']))).toMatch(/needs --firmware/);
  });

  it('eventlog diff names the PEI platform data and the boot entry that differ, and the knob behind them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-pcr-platform-'));
    const expected = join(dir, 'expected.json');
    const r = await cli([
      'measure',
      'pcr',
      ...ukiOnDisk(),
      '--mem',
      '1024',
      '--firmware',
      shared('fixtures', CODE),
      '--smp',
      '3,maxcpus=5',
      '--disk-pci',
      '4',
      '--json',
    ]);
    writeFileSync(expected, r.stdout);
    const log = shared('fixtures', 'pcr/uki-6.1-m1024.eventlog.bin');
    const d = await cli(['eventlog', 'diff', log, '--expected', expected, '--firmware', shared('fixtures', CODE)]);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('what differs: PEI platform data: 1 vCPUs, predicted 3; maxcpus 1, predicted 5');
    const j = JSON.parse((await cli(['eventlog', 'diff', log, '--expected', expected, '--json'])).stdout);
    expect(j.pcrs['0'].divergence.explanation).toMatch(/give --firmware to name the setting/);
    const validate = schema('pcr-eventlog-diff.schema.json');
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j.pcrs['1'].divergence.explanation).toBe(
      "boot entry: Boot0001 'UEFI Misc Device' PciRoot PCI 00:01.0, predicted Boot0001 'UEFI Misc Device' PciRoot PCI 00:04.0 (the boot disk's PCI address (--disk-pci))",
    );
    const direct = JSON.parse(
      (await cli(['eventlog', 'diff', shared('fixtures', 'pcr/direct-6.1-m1024.eventlog.bin'), '--expected', expected, '--json'])).stdout,
    );
    expect(direct.pcrs['1'].divergence.explanation).toMatch(
      /^boot entry: BootOrder 0000, predicted BootOrder 0001,0000,0002 \(the boot options: direct kernel boot vs disk boot/,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('findPlatform names a machine-type and a memory difference', () => {
    const predicted = { machine: 'q35', memMiB: 1024, cpus: 2, maxCpus: 2 } as const;
    for (const actual of [
      { machine: 'pc', memMiB: 1024, cpus: 2, maxCpus: 2 },
      { machine: 'q35', memMiB: 2048, cpus: 2, maxCpus: 2 },
    ] as const) {
      const pei = platformFirmwareEvents(model, actual, ['sha256'])[1]!;
      const found = findPlatform(model, predicted, 'sha256', toHex(pei.digests.sha256!))!;
      expect(found).toMatchObject({ machine: actual.machine, memMiB: actual.memMiB });
      expect(platformDifference(found, predicted)).toMatch(actual.machine === 'pc' ? /^machine pc, predicted q35$/ : /^-m 2048 .*predicted 1024$/);
    }
  });
});
