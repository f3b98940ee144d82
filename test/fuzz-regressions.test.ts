/**
 * One minimal constructed input per crash the fuzz harness (test/fuzz, `npm run fuzz`) found: each
 * failed (raw error, hang or gigabytes of RSS) before its fix and must now end in a typed error or a
 * bounded result.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRecipe } from '../src/build/recipe.js';
import { CvmError, FormatError, InputError } from '../src/errors.js';
import { encodeCbor, Tagged } from '../src/formats/cbor.js';
import { readCertificates } from '../src/formats/x509.js';
import { replayEventLog, type TcgEvent } from '../src/formats/tcg-eventlog.js';
import { EV_NO_ACTION } from '../src/tcg/event-types.js';
import { readCpio, writeCpio } from '../src/formats/cpio.js';
import { OVMF_SEV_METADATA_GUID, OVMF_TABLE_FOOTER_GUID, parseOvmf } from '../src/formats/ovmf.js';
import { parsePe } from '../src/formats/pe.js';
import { parseTdvfMetadata, TD_SHIM_METADATA_GUID } from '../src/formats/tdvf.js';
import { buildUki, parseUki } from '../src/formats/uki.js';
import { inspectManifest, inspectText } from '../src/manifest/inspect.js';
import { REFERENCE_VALUES_SCHEMA } from '../src/manifest/model.js';
import { guidToBytes } from '../src/util/bytes.js';
import { tdvfDescriptor, type SectionRow } from './helpers/tdvf.js';

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

/** td-shim layout: [body][metadata GUID][TDVF descriptor][16 bytes][0x20 tail whose first u32 points at the descriptor]. */
function tdShimImage(rows: SectionRow[], body = 0x2000): Buffer {
  const tail = Buffer.alloc(0x20);
  tail.writeUInt32LE(body + 16, 0);
  return Buffer.concat([Buffer.alloc(body, 0xa5), guidToBytes(TD_SHIM_METADATA_GUID), tdvfDescriptor(rows), Buffer.alloc(16), tail]);
}

/** OVMF layout: [ASEV metadata with `sections` (gpa, size, type)][footer entry pointing at it][footer][0x20 tail]. */
function sevImage(sections: [number, number, number][]): Buffer {
  const md = Buffer.alloc(16 + 12 * sections.length);
  md.write('ASEV', 0, 'latin1');
  md.writeUInt32LE(md.length, 4);
  md.writeUInt32LE(1, 8);
  md.writeUInt32LE(sections.length, 12);
  sections.forEach(([gpa, size, type], i) => {
    md.writeUInt32LE(gpa, 16 + 12 * i);
    md.writeUInt32LE(size, 20 + 12 * i);
    md.writeUInt32LE(type, 24 + 12 * i);
  });
  const entry = Buffer.alloc(4 + 18);
  const footer = Buffer.alloc(18);
  entry.writeUInt16LE(22, 4);
  entry.set(guidToBytes(OVMF_SEV_METADATA_GUID), 6);
  footer.writeUInt16LE(22 + 18, 0);
  footer.set(guidToBytes(OVMF_TABLE_FOOTER_GUID), 2);
  const total = md.length + entry.length + footer.length + 0x20;
  entry.writeUInt32LE(total, 0); // metadata offset from the end of the file
  return Buffer.concat([md, entry, footer, Buffer.alloc(0x20)]);
}

describe('fuzz regressions: TDVF / SEV metadata work bounds (issue 15 point 8)', () => {
  it('TDVF: MemoryDataSize 2^52 of build-time pages is refused before MRTD loops over them', () => {
    const img = tdShimImage([[3, 0, 0, 0x1000_0000_0000, 2 ** 52 - 0x1000_0000_0000, 0]]);
    expect(() => parseTdvfMetadata(img)).toThrow(/sections add 0xff00000000000 bytes of memory at build time, more than the 0x10000000 bound/);
  });

  it('TDVF: MR.EXTEND of more memory than the image holds is refused', () => {
    const img = tdShimImage([[0, 0, 0x1000, 0xff000000, 0x100000, 1]]);
    expect(() => parseTdvfMetadata(img)).toThrow(/sections extend 0x100000 bytes into MRTD, more than the 0x[0-9a-f]+-byte image holds/);
    expect(parseTdvfMetadata(tdShimImage([[0, 0, 0x1000, 0xff000000, 0x2000, 1]])).sections).toHaveLength(1);
  });

  it('SEV: 5,118 sections of 4 GiB in a small file are refused before measure snp replays them', () => {
    const many = Array.from({ length: 5118 }, () => [0, 0xfffff000, 1] as [number, number, number]);
    expect(() => parseOvmf(sevImage(many))).toThrow(/sections 0..0 cover 0xfffff000 bytes, more than the 0x4000000 bound/);
    expect(() => parseOvmf(sevImage([[0x811000, 0xfffff000, 1]]))).toThrow(/runs past the 4 GiB guest address space/);
    expect(parseOvmf(sevImage([[0x800000, 0x9000, 1]])).sevMetadata!.sections).toHaveLength(1);
  });
});

describe('fuzz regressions: cpio symlink chains (issue 15 point 9)', () => {
  it('refuses sub/esc -> up/.. when sub/up -> .. (each alone resolves inside; together they escape)', () => {
    const archive = writeCpio([
      { path: 'sub', type: 'dir', mode: 0o755 },
      { path: 'sub/up', type: 'symlink', mode: 0o777, target: '..' },
      { path: 'sub/esc', type: 'symlink', mode: 0o777, target: 'up/..' },
    ]);
    expect(() => readCpio(archive)).toThrow(/symlink "sub\/esc" -> "up\/.." points outside the tree/);
    // the same link with an earlier definition order, and a chain that stays inside, are judged on the whole tree
    const inside = writeCpio([
      { path: 'a', type: 'dir', mode: 0o755 },
      { path: 'a/b', type: 'dir', mode: 0o755 },
      { path: 'a/b/up', type: 'symlink', mode: 0o777, target: '..' },
      { path: 'a/b/esc', type: 'symlink', mode: 0o777, target: 'up/..' },
    ]);
    expect(readCpio(inside).filter((m) => m.type === 'symlink')).toHaveLength(2);
  });
});

describe('fuzz regressions: manifest inspect and recipe YAML (issue 15 point 9)', () => {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const inspect = (b: Uint8Array) => inspectText(inspectManifest(b));

  it.each([
    ['an RVPS sample whose payload is not JSON (was SyntaxError)', json({ version: '0.1.0', type: 'sample', payload: b64('{"a": \u0001}') }), FormatError],
    ['a reference-values document without its arrays (was TypeError)', json({ schema: REFERENCE_VALUES_SCHEMA }), InputError],
    [
      'a DSSE statement subject without digest (was TypeError)',
      json({ payloadType: 't', payload: b64('{"subject":[{"name":"x"}]}'), signatures: [{ sig: 'AA==' }] }),
      FormatError,
    ],
    [
      'an unsigned CoRIM whose validity is 1e300 s (was RangeError: Invalid time value)',
      encodeCbor(
        new Tagged(
          501,
          new Map<number, unknown>([
            [0, 'id'],
            [1, []],
            [4, new Map([[1, 1e300]])],
          ]) as never,
        ),
      ),
      FormatError,
    ],
  ])('%s: typed error', (_, bytes, type) => {
    expect(() => inspect(bytes)).toThrow(type);
  });

  it('a DSSE payload of JSON null is shown as a non-Statement (was TypeError)', () => {
    const r = inspectManifest(json({ payloadType: 't', payload: b64('null'), signatures: [{ sig: 'AA==' }] }));
    expect(r).toMatchObject({ type: 'dsse', predicateType: null, subjects: [] });
  });

  it('a recipe with an alias before its anchor is an InputError with its line (was a raw ReferenceError from yaml)', () => {
    const text = 'name: x\nsourceDateEpoch: 1\ncomponents:\n  a: *nope\n';
    expect(() => parseRecipe(text, '/r/recipe.yaml')).toThrow(CvmError);
    expect(() => parseRecipe(text, '/r/recipe.yaml')).toThrow(/^\/r\/recipe.yaml:4:6: bad YAML: Unresolved alias .*: nope$/);
  });
});

describe('fuzz regressions: PEM certificates (x509 target, campaign 1 on 2026-12-02)', () => {
  const pem = (body: string) => new TextEncoder().encode(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`);
  it.each(['A', 'ABCDE', 'AB=', 'A==', 'ABCD=', 'MIIB\nM'])('base64 %j that atob refuses is a FormatError (was a raw InvalidCharacterError)', (body) => {
    expect(() => readCertificates(pem(body), 'cert')).toThrow(FormatError);
    expect(() => readCertificates(pem(body), 'cert')).toThrow('bad base64');
  });
});

describe('review regressions (2026-12-02): a hostile certificate, a misplaced StartupLocality', () => {
  const tlv = (tag: number, ...body: Uint8Array[]) => {
    const b = Buffer.concat(body);
    return new Uint8Array(Buffer.concat([Buffer.from([tag, b.length]), b]));
  };
  const oid = tlv(0x06, Uint8Array.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03])); // ecdsa-with-SHA384
  const alg = tlv(0x30, oid);
  const cert = (validity: Uint8Array) =>
    tlv(
      0x30,
      tlv(0x30, tlv(0xa0, tlv(0x02, Uint8Array.of(2))), tlv(0x02, Uint8Array.of(1)), alg, tlv(0x30), validity, tlv(0x30), tlv(0x30)),
      alg,
      tlv(0x03, Uint8Array.of(0)),
    );

  it('a certificate whose Validity lacks notBefore/notAfter is a FormatError (was a raw TypeError)', () => {
    expect(() => readCertificates(cert(tlv(0x30)), 'cert')).toThrow(FormatError);
    expect(() => readCertificates(cert(tlv(0x30)), 'cert')).toThrow(/Validity needs notBefore and notAfter/);
    expect(() => readCertificates(tlv(0x30, tlv(0x30)), 'cert')).toThrow(/tbsCertificate, signatureAlgorithm and signatureValue/);
  });

  it('a StartupLocality event after a PCR0 measurement (or not on PCR0) is refused instead of resetting PCR0', () => {
    const ev = (index: number, pcrIndex: number, startup: boolean): TcgEvent => ({
      index,
      offset: 0,
      pcrIndex,
      type: startup ? EV_NO_ACTION : 0x8,
      typeName: startup ? 'EV_NO_ACTION' : 'EV_S_CRTM_VERSION',
      digests: { sha256: 'ab'.repeat(32) },
      data: new Uint8Array(0),
      ...(startup ? { decoded: { startupLocality: 3 } } : {}),
    });
    expect(() => replayEventLog([ev(1, 0, true), ev(2, 0, false)], { alg: 'sha256', map: 'pcr' })).not.toThrow();
    expect(() => replayEventLog([ev(1, 0, false), ev(2, 0, true)], { alg: 'sha256', map: 'pcr' })).toThrow(
      /event 2: StartupLocality must be logged to PCR0 before its first measurement/,
    );
    expect(() => replayEventLog([ev(1, 3, true)], { alg: 'sha256', map: 'pcr' })).toThrow(FormatError);
  });
});

describe('fuzz regressions: uki build with a hostile stub (uki-build target, campaign 1 on 2026-12-02)', () => {
  const STUB = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';
  it.skipIf(!existsSync(STUB))('a section VirtualAddress of 2^32-1 that pushes SizeOfImage past UINT32 is a FormatError (was a raw RangeError)', () => {
    const stub = new Uint8Array(readFileSync(STUB));
    const dv = new DataView(stub.buffer);
    const sections = parsePe(stub).sections;
    // PE/COFF: the section table follows the optional header (e_lfanew + 4 + 20 + SizeOfOptionalHeader); the
    // last header's VirtualAddress (+12) decides where the UKI sections go
    const lfanew = dv.getUint32(0x3c, true);
    const at = lfanew + 24 + dv.getUint16(lfanew + 20, true) + 40 * (sections.length - 1) + 12;
    expect(dv.getUint32(at, true)).toBe(sections.at(-1)!.virtualAddress);
    dv.setUint32(at, 0xffffffff, true);
    expect(() => buildUki({ stub, sections: { '.linux': new Uint8Array(512) } })).toThrow(/does not fit a UINT32 field/);
  });
});
