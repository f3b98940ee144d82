/** PE/COFF parsing and Authenticode digests (checked against the digests firmware logged on real boots). */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { authenticode, parsePe, peChecksum } from '../src/formats/pe.js';
import { parseEventLog } from '../src/formats/tcg-eventlog.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

const KERNEL = 'debian/debian-bookworm-vmlinuz-6.1.0-56-amd64';

describeShared('PE/COFF + Authenticode', () => {
  const kernel = readFileSync(shared('fixtures', KERNEL));
  const uki = readFileSync(shared('fixtures', 'pcr/uki-6.1.efi'));
  // The UKI boot's log has two PCR4 images: the UKI, then its .linux (the unmodified Debian kernel).
  const images = parseEventLog(readFileSync(shared('fixtures', 'pcr/uki-6.1-m1024.eventlog.bin'))).events.filter(
    (e) => e.typeName === 'EV_EFI_BOOT_SERVICES_APPLICATION',
  );

  it('Authenticode sha1/sha256/sha384 equal what OVMF measured for the UKI and for the signed kernel', () => {
    expect(images).toHaveLength(2);
    const [ukiEvent, kernelEvent] = images as [(typeof images)[0], (typeof images)[0]];
    for (const [bytes, ev] of [
      [uki, ukiEvent],
      [kernel, kernelEvent],
    ] as const) {
      const d = authenticode(bytes, ['sha1', 'sha256', 'sha384']);
      expect({ sha1: toHex(d.sha1), sha256: toHex(d.sha256), sha384: toHex(d.sha384) }).toEqual(ev.digests);
    }
  });

  it('excludes the certificate table of a signed image (appending to the signature does not change the hash)', () => {
    const pe = parsePe(kernel);
    expect(pe.certTable.size).toBeGreaterThan(0);
    expect(pe.certTable.offset + pe.certTable.size).toBe(kernel.length);
    // flipping a byte inside the certificate table or the CheckSum leaves the digest unchanged; a code byte changes it
    const base = toHex(authenticode(kernel).sha256);
    const inCert = Buffer.from(kernel);
    inCert[pe.certTable.offset + 100] = inCert[pe.certTable.offset + 100]! ^ 0xff;
    inCert[pe.checksumOffset] = inCert[pe.checksumOffset]! ^ 0xff;
    expect(toHex(authenticode(inCert).sha256)).toBe(base);
    const inCode = Buffer.from(kernel);
    const at = pe.sections[2]!.pointerToRawData + 10;
    inCode[at] = inCode[at]! ^ 0xff;
    expect(toHex(authenticode(inCode).sha256)).not.toBe(base);
  });

  it('reads headers and sections; the PE checksum matches the normalised UKI', () => {
    const pe = parsePe(uki);
    expect(pe.magic).toBe(0x20b);
    expect(pe.sections.map((s) => s.name)).toEqual([
      '.text',
      '.reloc',
      '.data',
      '.dynamic',
      '.rela',
      '.dynsym',
      '.sbat',
      '.sdmagic',
      '.osrel',
      '.cmdline',
      '.linux',
      '.initrd',
    ]);
    expect(peChecksum(uki, pe.checksumOffset)).toBe(uki.readUInt32LE(pe.checksumOffset));
  });

  const hostile: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['not MZ', (b) => Buffer.concat([Buffer.from('XX'), b.subarray(2)]), /no MZ signature/],
    ['e_lfanew past EOF', (b) => (b.writeUInt32LE(0x7ffffff0, 0x3c), b), /COFF header .* outside/],
    ['section table past EOF', (b) => b.subarray(0, parsePe(b).sectionTableOffset + 20), /section table.* outside/],
    ['huge section count', (b) => (b.writeUInt16LE(0xffff, parsePe(b).coffOffset + 2), b), /NumberOfSections 65535 exceeds/],
    ['section raw data past EOF', (b) => b.subarray(0, b.length - 200_000), /raw data.* outside|certificate table.* outside/],
    [
      'overlapping sections',
      (b) => {
        const pe = parsePe(b);
        const [s0, s1] = [pe.sections[0]!, pe.sections[1]!];
        b.writeUInt32LE(s0.pointerToRawData + 16, s1.headerOffset + 20);
        return b;
      },
      /overlap/,
    ],
    ['certificate table past EOF', (b) => (b.writeUInt32LE(b.length + 4096, parsePe(b).certDirectoryOffset!), b), /certificate table.* outside/],
    ['huge SizeOfHeaders', (b) => (b.writeUInt32LE(0xfffffff0, parsePe(b).optionalHeaderOffset + 60), b), /SizeOfHeaders .* past the end/],
  ];
  for (const [name, mutate, re] of hostile) {
    it(`hostile PE: ${name} → one FormatError line`, () => {
      const bad = mutate(Buffer.from(kernel));
      let err: unknown;
      try {
        authenticode(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('hostile PE through the CLI: exit 1 and one error line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-pe-'));
    const bad = Buffer.from(kernel);
    bad.writeUInt16LE(0xffff, parsePe(bad).coffOffset + 2);
    writeFileSync(join(dir, 'bad.efi'), bad);
    const r = await cli(['measure', 'pcr', '--boot', 'direct', '--kernel', join(dir, 'bad.efi'), '--unpatched-kernel']);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/PE image: NumberOfSections/);
  });
});
