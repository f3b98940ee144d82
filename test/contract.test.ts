/**
 * The typed measurement contract holds: every field a measure report may carry (its JSON Schema's
 * properties) is classified by its platform's mapping as signed (value, parameter, input) or unsigned,
 * so a new report field fails here until someone decides whether it is signed; real reports validate
 * against their schemas; and every field the recipe's measure: block allows is read by the build.
 */
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runMeasurements } from '../src/build/measure.js';
import type { MeasureSpec } from '../src/build/recipe.js';
import { importMeasurements } from '../src/manifest/import.js';
import { PCR_SIGNED, SNP_SIGNED, TDX_SIGNED } from '../src/manifest/model.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

const schema = (name: string) => JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8'));
const classified = (m: Record<string, readonly string[]>) =>
  [
    ...new Set(
      Object.values(m)
        .flat()
        .map((f) => f.split('.')[0]!),
    ),
  ].sort();

describe('the per-platform mappings classify every report field', () => {
  it.each([
    ['snp', 'snp-measurement.schema.json', SNP_SIGNED],
    ['tdx', 'tdx-measure.schema.json', TDX_SIGNED],
    ['pcr', 'pcr-measure.schema.json', PCR_SIGNED],
  ] as const)('%s', (_, file, mapping) => {
    expect(classified(mapping)).toEqual(Object.keys(schema(file).properties).sort());
  });
});

describeShared('the build measures with every field the recipe allows, and its output imports as is', () => {
  it('reads each measure: field (a Proxy records the reads)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-contract-'));
    const files: Record<string, string> = {
      'fw.OVMF.fd': shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'),
      'fw.OVMF_VARS.fd': shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.fd'),
      'k.vmlinuz': shared('fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64'),
      'i.initrd.cpio': shared('fixtures/pcr/initrd-a.cpio'),
      'u.uki.efi': shared('fixtures/pcr/uki-6.1.efi'),
      'd.disk.img': shared('fixtures/pcr/uki-disk-gpt-head.bin'),
    };
    for (const [name, path] of Object.entries(files)) symlinkSync(path, join(dir, name));
    writeFileSync(join(dir, 'c.cmdline.txt'), 'console=ttyS0');
    const artifacts = [...Object.keys(files), 'c.cmdline.txt'].map((name) => ({ name, path: name, size: 0, sha256: '', sha384: '' }));
    const direct = { kernel: 'k.vmlinuz', initrd: 'i.initrd.cpio', cmdline: 'c.cmdline.txt' };
    const spec: Required<{ [K in keyof MeasureSpec]-?: Required<NonNullable<MeasureSpec[K]>> }> = {
      snp: {
        firmware: 'fw.OVMF.fd',
        kernel: 'k.vmlinuz',
        initrd: 'i.initrd.cpio',
        cmdline: 'c.cmdline.txt',
        vmm: ['qemu'],
        vcpuType: ['EPYC-v4'],
        vcpus: '1,2',
        guestFeatures: '0x1',
        policy: '0x30000',
      },
      tdx: { firmware: 'fw.OVMF.fd', ...direct, memory: 2048 },
      pcr: { vars: 'fw.OVMF_VARS.fd', shapes: ['direct', 'uki'], ...direct, uki: 'u.uki.efi', disk: 'd.disk.img', banks: ['sha256'], memory: 1024 },
    };
    // the AmdSev build is what measures a direct boot for SNP: this Debian OVMF refuses a kernel, so SNP runs without one here
    const { kernel: _k, initrd: _i, cmdline: _c, ...snpNoBoot } = spec.snp;
    const read = new Set<string>();
    const watch = <T extends object>(platform: string, o: T): T => new Proxy(o, { get: (t, k) => (read.add(`${platform}.${String(k)}`), Reflect.get(t, k)) });
    const got = await runMeasurements(
      { snp: watch('snp', snpNoBoot) as MeasureSpec['snp'], tdx: watch('tdx', spec.tdx), pcr: watch('pcr', spec.pcr) },
      artifacts,
      dir,
    );
    const allowed = schema('recipe.schema.json').definitions.measure.properties as Record<string, { properties: object }>;
    for (const [platform, def] of Object.entries(allowed)) {
      for (const field of Object.keys(def.properties)) {
        if (platform === 'snp' && ['kernel', 'initrd', 'cmdline'].includes(field)) continue;
        expect(read, `${platform}.${field}`).toContain(`${platform}.${field}`);
      }
    }
    for (const m of got) expect(importMeasurements(JSON.parse(JSON.stringify(m)))).toEqual(JSON.parse(JSON.stringify(m)));
    expect(got.map((m) => m.kind)).toEqual(['snp', 'tdx', 'pcr', 'pcr']);
  });
});
