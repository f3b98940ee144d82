/**
 * Malformed firmware never yields a stack trace: every case is a one-line error (exit 1) from the
 * library (a CvmError) and from `measure snp` / `inspect firmware`. The corrupt images are derived
 * from the real fixtures by patching the fields the OVMF footer / SEV metadata parsers read.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { CvmError } from '../src/errors.js';
import { OVMF_SEV_METADATA_GUID, OVMF_TABLE_FOOTER_GUID, parseFooterTable, parseOvmf } from '../src/formats/ovmf.js';
import { snpLaunchDigests } from '../src/measure/snp/launch.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

interface Vectors {
  inputs: Record<string, { path: string }>;
  cases: { id: string; expected: { digest?: string } }[];
}

/** Deterministic "random" bytes: SHA-256 in counter mode. */
function pseudoRandom(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i * 32 < n; i++)
    createHash('sha256')
      .update(`cvm-measure ${i}`)
      .digest()
      .copy(out, i * 32);
  return out;
}

describeShared('malformed firmware', () => {
  const v = loadVectors<Vectors>('snp');
  const fixture = (name: string) => readFileSync(shared(v.inputs[name]!.path));
  const ovmf = fixture('debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  const amdSev = fixture('ovmf_AmdSev_suffix.bin');
  const dir = mkdtempSync(join(tmpdir(), 'cvm-snp-fw-'));

  /** Copies `base` and applies `patch` to the copy. */
  const patched = (base: Buffer, patch: (b: Buffer) => void) => {
    const b = Buffer.from(base);
    patch(b);
    return b;
  };
  const footer = parseFooterTable(amdSev)!;
  const metaEntry = footer.entries.find((e) => e.guid === OVMF_SEV_METADATA_GUID)!;
  const metadataAt = parseOvmf(amdSev).sevMetadata!.offset;

  const cases: { name: string; image: Buffer; pattern: RegExp; inspect: 'ok' | RegExp }[] = [
    { name: 'empty', image: Buffer.alloc(0), pattern: /firmware is empty/, inspect: 'ok' },
    { name: 'truncated (first 1 MiB of OVMF.fd)', image: ovmf.subarray(0, 1 << 20), pattern: /no SEV-ES reset block \(footer entry 00f771de-/, inspect: 'ok' },
    { name: 'truncated mid-page', image: ovmf.subarray(0, 1_000_000), pattern: /firmware size 1000000 is not a multiple of 4 KiB/, inspect: 'ok' },
    {
      name: 'size not a multiple of 4 KiB (one byte appended)',
      image: Buffer.concat([ovmf, Buffer.alloc(1)]),
      pattern: /not a multiple of 4 KiB/,
      inspect: 'ok',
    },
    { name: 'zero-filled', image: Buffer.alloc(2 << 20), pattern: /no SEV-ES reset block/, inspect: 'ok' },
    { name: 'random bytes', image: pseudoRandom(2 << 20), pattern: /no SEV-ES reset block/, inspect: 'ok' },
    {
      name: 'footer table length reaching before the file',
      image: patched(amdSev, (b) => b.writeUInt16LE(0xffff, footer.offset)),
      pattern: new RegExp(`footer ${OVMF_TABLE_FOOTER_GUID} at 0x${footer.offset.toString(16)} claims 65535 bytes, reaching before the start`),
      inspect: /OVMF footer table: footer 96b582de/,
    },
    {
      name: 'footer entry with a too-small length',
      image: patched(amdSev, (b) => b.writeUInt16LE(5, metaEntry.offset + metaEntry.data.length)),
      pattern: new RegExp(`entry ${OVMF_SEV_METADATA_GUID} at 0x${(metaEntry.offset + metaEntry.data.length).toString(16)} has length 5`),
      inspect: /has length 5/,
    },
    {
      name: 'SEV metadata pointer outside the file',
      image: patched(amdSev, (b) => b.writeUInt32LE(0x10000000, metaEntry.offset)),
      pattern: new RegExp(
        `OVMF SEV metadata: entry ${OVMF_SEV_METADATA_GUID} at 0x${metaEntry.offset.toString(16)} points 0x10000000 bytes before the end .*outside the file`,
      ),
      inspect: /outside the file/,
    },
    {
      name: 'SEV metadata with a bad signature',
      image: patched(amdSev, (b) => b.write('XXXX', metadataAt, 'latin1')),
      pattern: new RegExp(`header at 0x${metadataAt.toString(16)} .* has signature "XXXX", expected "ASEV"`),
      inspect: /expected "ASEV"/,
    },
    {
      name: 'SEV metadata section of unknown type',
      image: patched(amdSev, (b) => b.writeUInt32LE(0x77, metadataAt + 16 + 8)),
      pattern: /section 0 at 0x[0-9a-f]+ has unknown type 0x77/,
      inspect: /unknown type 0x77/,
    },
    {
      name: 'SEV metadata with more sections than its size',
      image: patched(amdSev, (b) => b.writeUInt32LE(1000, metadataAt + 12)),
      pattern: /too small for 1000 sections/,
      inspect: /too small for 1000 sections/,
    },
  ];

  for (const c of cases) {
    const file = join(dir, c.name.replace(/\W+/g, '-'));
    writeFileSync(file, c.image);

    it(`library: ${c.name}`, () => {
      let err: unknown;
      try {
        snpLaunchDigests({ firmware: c.image, vcpu: { type: 'EPYC-v4' } });
      } catch (e) {
        err = e;
      }
      expect(err instanceof CvmError, String(err)).toBe(true);
      expect((err as Error).message).toMatch(c.pattern);
      expect((err as Error).message).not.toContain('\n');
    });

    it(`cli measure snp: ${c.name}`, async () => {
      const r = await cli(['measure', 'snp', '--firmware', file, '--vcpu-type', 'EPYC-v4', '--vcpus', '1']);
      expect(r.code).toBe(1);
      expect(errorLine(r)).toMatch(c.pattern);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(r.stdout).toBe('');
    });

    it(`cli inspect firmware: ${c.name}`, async () => {
      const r = await cli(['inspect', 'firmware', file, '--json']);
      if (c.inspect === 'ok') {
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout) as { size: number; footerTable: unknown; sevMetadata: unknown };
        expect(out.size).toBe(c.image.length);
        expect(out.sevMetadata).toBeNull();
      } else {
        expect(r.code).toBe(1);
        expect(errorLine(r)).toMatch(c.inspect);
      }
    });
  }

  it('firmware without SEV metadata: loud warning on stderr, digest still computed (as the reference)', async () => {
    const path = shared(v.inputs['debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_CODE_4M.fd']!.path);
    const expected = v.cases.find((x) => x.id === 'snp-qemu-bookworm-OVMF_CODE_4M-nometadata-1vcpu')!.expected.digest;
    const lib = snpLaunchDigests({ firmware: readFileSync(path), vcpu: { type: 'EPYC-v4' } });
    expect(toHex(lib.digests.get(1)!)).toBe(expected);
    expect(lib.warnings).toHaveLength(1);
    expect(lib.warnings[0]).toMatch(/NO SEV metadata \(footer entry dc886566-984a-4798-a75e-5585a7bf67cc\)/);
    const r = await cli(['measure', 'snp', '--firmware', path, '--vcpu-type', 'EPYC-v4', '--vcpus', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${expected}\n`);
    expect(r.stderr).toMatch(/^cvm-measure: warning: firmware has NO SEV metadata/);
    const j = await cli(['measure', 'snp', '--firmware', path, '--vcpu-type', 'EPYC-v4', '--vcpus', '1', '--json']);
    expect((JSON.parse(j.stdout) as { warnings: string[] }).warnings).toEqual(lib.warnings);
    expect(j.stderr).toMatch(/warning: firmware has NO SEV metadata/);
  });
});
