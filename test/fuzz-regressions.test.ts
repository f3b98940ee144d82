/**
 * One minimal constructed input per crash the fuzz harness (test/fuzz, `npm run fuzz`) found: each
 * failed (raw error, hang or gigabytes of RSS) before its fix and must now end in a typed error or a
 * bounded result.
 */
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { parsePe } from '../src/formats/pe.js';
import { buildUki, parseUki } from '../src/formats/uki.js';

/** PE32+ image: DOS header (e_lfanew 0x40), "PE\0\0", COFF header, optional header of `optSize` bytes, section headers, then raw data. */
function pe(o: { optSize?: number; rvaCount?: number; sections?: { name: string; virtualSize: number; raw: Uint8Array }[]; tail?: number }): Buffer {
  const optSize = o.optSize ?? 112 + 16 * 8;
  const sections = o.sections ?? [];
  const opt = 0x40 + 4 + 20;
  const table = opt + optSize;
  const headers = Math.ceil((table + 40 * sections.length) / 0x200) * 0x200;
  const total = headers + sections.reduce((n, s) => n + Math.ceil(s.raw.length / 0x200) * 0x200, 0);
  const b = Buffer.alloc(sections.length > 0 ? total : (o.tail ?? table));
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  b.writeUInt16LE(0x8664, 0x44); // Machine
  b.writeUInt16LE(sections.length, 0x46); // NumberOfSections
  b.writeUInt16LE(optSize, 0x54); // SizeOfOptionalHeader
  b.writeUInt16LE(0x20b, opt); // PE32+
  b.writeUInt32LE(0x1000, opt + 32); // SectionAlignment
  b.writeUInt32LE(0x200, opt + 36); // FileAlignment
  b.writeUInt32LE(sections.length > 0 ? headers : b.length, opt + 60); // SizeOfHeaders
  if (optSize >= 112) b.writeUInt32LE(o.rvaCount ?? 16, opt + 108); // NumberOfRvaAndSizes
  let raw = headers;
  let rva = 0x1000;
  sections.forEach((s, i) => {
    const h = table + 40 * i;
    b.write(s.name, h, 8, 'latin1');
    b.writeUInt32LE(s.virtualSize, h + 8);
    b.writeUInt32LE(rva, h + 12);
    b.writeUInt32LE(Math.ceil(s.raw.length / 0x200) * 0x200, h + 16);
    b.writeUInt32LE(raw, h + 20);
    b.set(s.raw, raw);
    raw += Math.ceil(s.raw.length / 0x200) * 0x200;
    rva += 0x1000;
  });
  b.writeUInt32LE(rva, opt + 56); // SizeOfImage
  return b;
}

describe('fuzz regressions: PE / UKI (issue 15 point 7)', () => {
  it('an optional header with 4.5 data directories ending at EOF has no Certificate Table entry (was a DataView RangeError)', () => {
    const b = pe({ optSize: 112 + 36, tail: 0x40 + 24 + 112 + 36 });
    expect(parsePe(b).certDirectoryOffset).toBeUndefined();
    expect(() => buildUki({ stub: b, sections: { '.linux': new Uint8Array(16) } })).toThrow(FormatError);
  });

  it('a section VirtualSize far beyond the file is refused before its zero fill is allocated', () => {
    const linux = { name: '.linux', virtualSize: 0x4000_0000, raw: new Uint8Array(0x200) };
    expect(() => parseUki(pe({ sections: [linux] }))).toThrow(/VirtualSize 0x40000000 is larger than the 1024-byte file/);
  });

  it('zero fill up to the file size is still loaded (a .bss-like tail)', () => {
    const u = parseUki(pe({ sections: [{ name: '.linux', virtualSize: 0x400, raw: new Uint8Array(0x200).fill(7) }] }));
    expect(u.sections.get('.linux')!.length).toBe(0x400);
    expect(u.sections.get('.linux')![0x3ff]).toBe(0);
  });
});
