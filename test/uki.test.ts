/** UKI reading and deterministic building (`uki build`), checked against the real UKI boot's PCR11/PCR9. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { parsePe } from '../src/formats/pe.js';
import { buildUki, parseUki } from '../src/formats/uki.js';
import { bootEvents, HASH_ALGS } from '../src/measure/boot/index.js';
import { pcrBanks } from '../src/measure/tpm/pcr.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, ROOT, shared } from './helpers/shared.js';

const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
const KERNEL = 'debian/debian-bookworm-vmlinuz-6.1.0-56-amd64';

describeShared('UKI: read the real boot UKI', () => {
  it('lists its sections and the systemd-stub version from .sdmagic', () => {
    const uki = parseUki(readFileSync(shared('fixtures', 'pcr/uki-6.1.efi')));
    expect(uki.stubVersion).toBe('252.39-1~deb12u2');
    expect(Buffer.from(uki.sections.get('.cmdline')!).toString()).toBe('console=ttyS0 panic=-1');
    expect(Buffer.compare(Buffer.from(uki.sections.get('.linux')!), readFileSync(shared('fixtures', KERNEL)))).toBe(0);
  });
});

const withStub = existsSync(STUB);
if (!withStub)
  process.stderr.write(`\n*** SKIPPED "uki build": ${STUB} missing (apt-get install systemd-boot-efi, or: npx cvm-measure doctor --fix --for test) ***\n`);
(withStub ? describeShared : (n: string, f: () => void) => describe.skip(`${n} [SKIPPED: ${STUB} missing]`, f))(
  'uki build (deterministic, ukify layout)',
  () => {
    const stub = withStub ? readFileSync(STUB) : Buffer.alloc(0);
    const fixture = () => parseUki(readFileSync(shared('fixtures', 'pcr/uki-6.1.efi')));

    it('built twice through the CLI from the same inputs: byte-identical, schema-valid JSON, fixed TimeDateStamp', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cvm-uki-'));
      const args = (out: string) => [
        'uki',
        'build',
        '--stub',
        STUB,
        '--linux',
        shared('fixtures', KERNEL),
        '--initrd',
        shared('fixtures', 'pcr/initrd-a.cpio'),
        '--cmdline',
        'console=ttyS0',
        '--uname',
        '6.1.0-56-amd64',
        '--out',
        out,
        '--json',
      ];
      const a = await cli(args(join(dir, 'a.efi')));
      const b = await cli(args(join(dir, 'b.efi')), { env: { SOURCE_DATE_EPOCH: '0' } });
      expect(a.code).toBe(0);
      const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas/pcr-uki-build.schema.json'), 'utf8')));
      const ja = JSON.parse(a.stdout);
      expect(validate(ja), JSON.stringify(validate.errors)).toBe(true);
      expect(ja.sections).toEqual(['.cmdline', '.uname', '.initrd', '.linux']);
      const fa = readFileSync(join(dir, 'a.efi'));
      expect(Buffer.compare(fa, readFileSync(join(dir, 'b.efi')))).toBe(0);
      expect(JSON.parse(b.stdout).sha256).toBe(ja.sha256);
      expect(parsePe(fa).timeDateStamp).toBe(0);
      const c = await cli(args(join(dir, 'c.efi')), { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      expect(parsePe(readFileSync(join(dir, 'c.efi'))).timeDateStamp).toBe(1700000000);
      expect(JSON.parse(c.stdout).sha256).not.toBe(ja.sha256);
    });

    it('lays sections out like ukify: appended in order, .linux last, aligned, headers consistent', () => {
      const f = fixture();
      const sections = {
        '.osrel': f.sections.get('.osrel')!,
        '.cmdline': f.sections.get('.cmdline')!,
        '.initrd': f.sections.get('.initrd')!,
        '.linux': f.sections.get('.linux')!,
      };
      const out = buildUki({ stub, sections });
      expect(Buffer.compare(out, buildUki({ stub, sections }))).toBe(0);
      const pe = parsePe(out);
      const s = parsePe(stub);
      expect(pe.sections.map((x) => x.name)).toEqual([...s.sections.map((x) => x.name), '.osrel', '.cmdline', '.initrd', '.linux']);
      for (const x of pe.sections.slice(s.sections.length)) {
        expect(x.virtualAddress % pe.sectionAlignment).toBe(0);
        expect(x.pointerToRawData % pe.fileAlignment).toBe(0);
        expect(x.characteristics).toBe(x.name === '.linux' ? 0x40000020 : 0x40000040);
      }
      const last = pe.sections[pe.sections.length - 1]!;
      expect(pe.sizeOfImage).toBe(Math.ceil((last.virtualAddress + last.virtualSize) / pe.sectionAlignment) * pe.sectionAlignment);
      const back = parseUki(out);
      for (const [k, v] of Object.entries(sections)) expect(Buffer.compare(Buffer.from(back.sections.get(k)!), Buffer.from(v))).toBe(0);
      expect(back.stubVersion).toBe(parseUki(buildUki({ stub, sections: { '.linux': sections['.linux'] } })).stubVersion);
    });

    it('rebuilt from the real UKI sections: PCR11 and PCR9 equal the real boot, in all banks', () => {
      const V = loadVectors<{ vectors: { name: string; pcrs: Record<string, Record<string, string>> }[] }>('pcr');
      const real = V.vectors.find((v) => v.name === 'uki-6.1-tcg')!;
      const f = fixture();
      const rebuilt = buildUki({
        stub,
        sections: {
          '.osrel': f.sections.get('.osrel')!,
          '.cmdline': f.sections.get('.cmdline')!,
          '.initrd': f.sections.get('.initrd')!,
          '.linux': f.sections.get('.linux')!,
        },
      });
      const pcrs = pcrBanks(bootEvents({ shape: 'uki', uki: rebuilt }), HASH_ALGS);
      for (const alg of HASH_ALGS) {
        expect(pcrs[alg]!['11']).toBe(real.pcrs[alg]!['11']);
        expect(pcrs[alg]!['9']).toBe(real.pcrs[alg]!['9']);
      }
    });

    it('refuses a signed stub, a missing .linux and a stub without header room', async () => {
      const kernel = readFileSync(shared('fixtures', KERNEL));
      expect(() => buildUki({ stub: kernel, sections: { '.linux': kernel } })).toThrow(/stub is signed/);
      expect(() => buildUki({ stub, sections: { '.cmdline': Buffer.from('x') } })).toThrow(/\.linux section/);
      // the stub's headers have room for 7 more section headers; all 8 UKI sections do not fit
      const x = Buffer.from('x');
      const all = { '.osrel': x, '.cmdline': x, '.dtb': x, '.uname': x, '.splash': x, '.pcrpkey': x, '.initrd': x, '.linux': kernel };
      expect(() => buildUki({ stub, sections: all })).toThrow(FormatError);
      expect(() => buildUki({ stub, sections: all })).toThrow(/no header room for 8 more section headers/);
      const r = await cli(['uki', 'build', '--stub', shared('fixtures', KERNEL), '--linux', shared('fixtures', KERNEL), '--out', join(tmpdir(), 'never.efi')]);
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(/stub is signed/);
      expect(existsSync(join(tmpdir(), 'never.efi'))).toBe(false);
    });
  },
);
