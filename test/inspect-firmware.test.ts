/**
 * `inspect firmware` on the real fixtures: JSON valid against schemas/inspect-firmware.schema.json,
 * hashes equal to the vectors' input hashes, the SNP seed equal to sev-snp-measure's snp:ovmf-hash
 * vectors, and footer entries / reset EIP / metadata as sev-snp-measure 0.0.13's OVMF parser read them
 * (values below were printed by that parser run on the same files).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { expect, it } from 'vitest';
import { TDX_METADATA_GUID, findFooterEntry } from '../src/formats/ovmf.js';
import { cli } from './helpers/cli.js';
import { ROOT, describeShared, loadVectors, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

interface Vectors {
  inputs: Record<string, { path: string; sha256: string; size: number }>;
  cases: { id: string; expected: { digest?: string } }[];
}
interface Inspect {
  sha256: string;
  size: number;
  snpSeed: string | null;
  footerTable: { entries: { guid: string; name: string | null; data: string }[] } | null;
  sevMetadata: { sections: { type: string; gpa: string; size: string }[] } | null;
  sevEsResetEip: string | null;
  sevHashTable: { gpa: string; size: string } | null;
  snpKernelHashes: { pageGpa: string; tableGpa: string | null } | null;
  svsmEntryOffset: string | null;
  tdxMetadata: boolean;
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(JSON.parse(readFileSync(resolve(ROOT, 'schemas/inspect-firmware.schema.json'), 'utf8')) as object);

/** sev-snp-measure 0.0.13 OVMF(...)._table and metadata_items() on the fixtures: GUID -> entry data (hex). */
const REFERENCE_TABLES: Record<string, { table: Record<string, string>; sections: number; resetEip: string | null }> = {
  'debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd': {
    table: {
      '00f771de-1a7e-4fcb-890e-68c77e2fb44e': '04b08000',
      '4c2eb361-7d9b-4cc3-8081-127c90d3d294': '0000000000000000',
      '7255371f-3a3b-4b04-927b-1da6efa8d454': '0000000000000000',
      'dc886566-984a-4798-a75e-5585a7bf67cc': '2c050000',
      'e47a6535-984a-4798-865e-4685a7bf8ec2': '40080000',
    },
    sections: 5,
    resetEip: '0x80b004',
  },
  'debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_CODE_4M.fd': {
    table: {
      '00f771de-1a7e-4fcb-890e-68c77e2fb44e': '04808000',
      '4c2eb361-7d9b-4cc3-8081-127c90d3d294': '0000000000000000',
      '7255371f-3a3b-4b04-927b-1da6efa8d454': '0000000000000000',
    },
    sections: 0,
    resetEip: '0x808004',
  },
  'ovmf_AmdSev_suffix.bin': {
    table: {
      '00f771de-1a7e-4fcb-890e-68c77e2fb44e': '04b08000',
      '4c2eb361-7d9b-4cc3-8081-127c90d3d294': '00008100000c0000',
      '7255371f-3a3b-4b04-927b-1da6efa8d454': '000c810000040000',
      'dc886566-984a-4798-a75e-5585a7bf67cc': '54050000',
      'e47a6535-984a-4798-865e-4685a7bf8ec2': 'd0090000',
    },
    sections: 7,
    resetEip: '0x80b004',
  },
  'svsm.bin': {
    table: {
      '00f771de-1a7e-4fcb-890e-68c77e2fb44e': 'f0ffffff',
      '4c2eb361-7d9b-4cc3-8081-127c90d3d294': 'efbeadde00000000',
      'a789a612-0597-4c4b-a49f-cbb1fe9d1ddd': '00000000',
      'dc886566-984a-4798-a75e-5585a7bf67cc': 'c2000000',
    },
    sections: 3,
    resetEip: '0xfffffff0',
  },
};

describeShared('inspect firmware', () => {
  const v = loadVectors<Vectors>('snp');
  const inspect = async (name: string): Promise<Inspect> => {
    const r = await cli(['inspect', 'firmware', shared(v.inputs[name]!.path), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Inspect;
    expect(validate(out), ajv.errorsText(validate.errors)).toBe(true);
    return out;
  };

  for (const [name, ref] of Object.entries(REFERENCE_TABLES)) {
    it(`${name}: footer table, metadata and reset EIP as sev-snp-measure parses them`, async () => {
      const out = await inspect(name);
      expect(out.sha256).toBe(v.inputs[name]!.sha256);
      expect(out.size).toBe(v.inputs[name]!.size);
      expect(Object.fromEntries(out.footerTable!.entries.map((e) => [e.guid, e.data]))).toEqual(ref.table);
      expect(out.sevMetadata?.sections.length ?? 0).toBe(ref.sections);
      expect(out.sevEsResetEip).toBe(ref.resetEip);
      expect(out.tdxMetadata).toBe(TDX_METADATA_GUID in ref.table);
      const entry = findFooterEntry(readFileSync(shared(v.inputs[name]!.path)), TDX_METADATA_GUID);
      expect(entry ? toHex(entry) : null).toBe(ref.table[TDX_METADATA_GUID] ?? null);
    });
  }

  it('the SNP seed equals sev-snp-measure --mode snp:ovmf-hash', async () => {
    for (const name of ['debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd', 'ovmf_AmdSev_suffix.bin']) {
      const out = await inspect(name);
      expect(out.snpSeed).toBe(v.cases.find((c) => c.id === `snp-ovmf-hash-${name}`)!.expected.digest);
    }
  });

  it('shows where the SNP kernel-hash table lives (AmdSev only)', async () => {
    const amd = await inspect('ovmf_AmdSev_suffix.bin');
    expect(amd.sevHashTable).toEqual({ gpa: '0x810c00', size: '0x400' });
    expect(amd.snpKernelHashes).toEqual({ pageGpa: '0x810000', tableGpa: '0x810c00' });
    const x64 = await inspect('ovmf_OvmfX64_suffix.bin');
    expect(x64.snpKernelHashes).toBeNull();
    expect(x64.sevHashTable).toEqual({ gpa: '0x0', size: '0x0' });
  });

  it('a file without a footer table (OVMF_VARS) and the text output', async () => {
    const vars = shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.fd');
    const j = await cli(['inspect', 'firmware', vars, '--json']);
    const out = JSON.parse(j.stdout) as Inspect;
    expect(validate(out), ajv.errorsText(validate.errors)).toBe(true);
    expect(out.footerTable).toBeNull();
    expect(out.tdxMetadata).toBe(false);
    const t = await cli(['inspect', 'firmware', shared(v.inputs['debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd']!.path)]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^tdx metadata +present$/m);
    expect(t.stdout).toMatch(/^sev-es reset eip 0x80b004$/m);
    expect(t.stdout).toMatch(/^ {2}SNP_SECRETS +gpa 0x80d000 +size 0x1000$/m);
  });
});
