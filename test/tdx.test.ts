/** TDX MRTD: every MRTD vector of ../shared/vectors/tdx.json, both page orders, TDVF metadata errors, CLI. */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTdvfMetadata } from '../src/formats/tdvf.js';
import { computeMrtd, tdxMrtd } from '../src/measure/tdx/mrtd.js';
import { guidToBytes } from '../src/util/bytes.js';
import { FormatError } from '../src/errors.js';
import { cli, errorLine } from './helpers/cli.js';
import { tdvfDescriptor, type SectionRow } from './helpers/tdvf.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';
import { toHex } from '../src/util/bytes.js';

interface MrtdVector {
  id: string;
  kind: string;
  input: { path?: string; sha256?: string };
  expected: { mrtd_single_pass?: string; mrtd_two_pass?: string };
  derived_only?: { mrtd_two_pass?: string };
}

const DEBIAN = 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-';

describeShared('TDX MRTD vectors (tdx.json)', () => {
  const vectors = loadVectors<{ vectors: MrtdVector[] }>('tdx').vectors.filter((v) => v.kind === 'mrtd');

  it('covers the Google synthetic image and Debian OVMF.fd', () => {
    expect(vectors.map((v) => v.id)).toEqual(['gce-clean-example-2MiB', 'debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd']);
  });

  for (const v of vectors) {
    describe(v.id, () => {
      const image = readFileSync(shared(v.input.path!));
      it('input is the vector file', () => {
        expect(createHash('sha256').update(image).digest('hex')).toBe(v.input.sha256);
      });
      if (v.expected.mrtd_single_pass) {
        it('single-pass MRTD', () => {
          expect(toHex(tdxMrtd(image, 'single').mrtd)).toBe(v.expected.mrtd_single_pass);
        });
      }
      if (v.expected.mrtd_two_pass) {
        it('two-pass MRTD', () => {
          expect(toHex(tdxMrtd(image, 'two-pass').mrtd)).toBe(v.expected.mrtd_two_pass);
        });
      }
    });
  }

  it('Debian OVMF.fd metadata is the six sections the vector describes', () => {
    const image = readFileSync(shared(`${DEBIAN}OVMF.fd`));
    const md = parseTdvfMetadata(image);
    expect(md.locator).toBe('ovmf-footer');
    expect(md.descriptorOffset).toBe(0x1ff7c0);
    expect(md.sections.map((s) => `${s.type} 0x${s.memoryAddress.toString(16)}+0x${s.memoryDataSize.toString(16)}${s.mrExtend ? ' MR.EXTEND' : ''}`)).toEqual([
      'BFV 0xffe20000+0x1e0000 MR.EXTEND',
      'CFV 0xffe00000+0x20000',
      'TempMem 0x810000+0x10000',
      'TempMem 0x80b000+0x2000',
      'TD_HOB 0x809000+0x2000',
      'TempMem 0x800000+0x6000',
    ]);
  });

  it('page order matters only through MR.EXTEND sections', () => {
    const image = readFileSync(shared(`${DEBIAN}OVMF.fd`));
    const md = parseTdvfMetadata(image);
    const noExtend = { ...md, sections: md.sections.map((s) => ({ ...s, mrExtend: false })) };
    expect(computeMrtd(image, noExtend, 'single')).toEqual(computeMrtd(image, noExtend, 'two-pass'));
    const aug = { ...md, sections: md.sections.map((s) => (s.type === 'TempMem' ? { ...s, pageAug: true } : s)) };
    expect(computeMrtd(image, aug, 'single')).not.toEqual(computeMrtd(image, md, 'single'));
  });

  it('split OVMF_CODE.fd: the BFV section points past the end of the file', () => {
    expect(() => parseTdvfMetadata(readFileSync(shared(`${DEBIAN}OVMF_CODE.fd`)))).toThrow(
      /section 0 \(BFV 0xffe20000\+0x1e0000\) raw data 0x20000\+0x1e0000 lies past the end of the 0x1e0000-byte file/,
    );
  });

  it('OVMF_CODE_4M.fd has no TDX metadata', () => {
    expect(() => parseTdvfMetadata(readFileSync(shared(`${DEBIAN}OVMF_CODE_4M.fd`)))).toThrow(/no TDX metadata/);
  });
});

/** A minimal image: [sections' data][descriptor][OVMF footer table with the given entries][0x20-byte reset vector]. */
function synthImage(opts: { sections?: SectionRow[]; descriptor?: (d: Buffer) => void; entries?: 'tdx' | 'sev' | 'none'; tdShim?: boolean }): Buffer {
  // rows here are [dataOffset, rawDataSize, memoryAddress, memoryDataSize, type, attributes] (spec field order)
  const rows = (opts.sections ?? [[0, 0x1000, 0xff000000, 0x1000, 0, 1]]).map(
    ([off, raw, addr, size, type, attr]) => [type, off, raw, addr, size, attr] as SectionRow,
  );
  const desc = tdvfDescriptor(rows, opts.descriptor);
  const body = Buffer.alloc(0x2000, 0xa5);
  const guid = Buffer.from(guidToBytes('e9eaf9f3-168e-44d5-a8eb-7f4d8738f6ae'));
  const tail = Buffer.alloc(0x20);
  const pre = Buffer.concat([body, guid, desc]);
  if (opts.tdShim) {
    tail.writeUInt32LE(body.length + 16, 0);
    return Buffer.concat([pre, Buffer.alloc(16), tail]);
  }
  const entry = (g: string, data: Buffer) => {
    const len = Buffer.alloc(2);
    len.writeUInt16LE(data.length + 18);
    return Buffer.concat([data, len, guidToBytes(g)]);
  };
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const entries: Buffer[] = [];
  // table = entries + footer entry (18 bytes) + 0x20 tail; TDX offset-from-end computed below.
  const tableStart = pre.length;
  if (opts.entries === 'sev') entries.push(entry('dc886566-984a-4798-a75e-5585a7bf67cc', u32(0)));
  if (opts.entries !== 'sev' && opts.entries !== 'none') entries.push(entry('e47a6535-984a-4798-865e-4685a7bf8ec2', u32(0)));
  const entriesLen = entries.reduce((n, e) => n + e.length, 0);
  const total = tableStart + entriesLen + 18 + 0x20;
  if (opts.entries !== 'sev' && opts.entries !== 'none') entries[0]!.writeUInt32LE(total - body.length - 16, 0);
  const footerLen = Buffer.alloc(2);
  footerLen.writeUInt16LE(entriesLen + 18);
  return Buffer.concat([pre, ...entries, footerLen, guidToBytes('96b582de-1fb2-45f7-baea-a366c55a082d'), tail]);
}

describe('TDVF metadata parsing', () => {
  it('finds the descriptor through the OVMF footer table and through the td-shim pointer, with the same MRTD', () => {
    const a = synthImage({});
    const b = synthImage({ tdShim: true });
    expect(parseTdvfMetadata(a).locator).toBe('ovmf-footer');
    expect(parseTdvfMetadata(b).locator).toBe('td-shim');
    expect(tdxMrtd(a).mrtd).toEqual(tdxMrtd(b).mrtd);
  });

  it('MR.EXTEND measures the section bytes; raw data shorter than the section is zero-filled', () => {
    const full = synthImage({ sections: [[0, 0x2000, 0xff000000, 0x2000, 0, 1]] });
    const short = synthImage({ sections: [[0, 0x1800, 0xff000000, 0x2000, 0, 1]] });
    expect(tdxMrtd(full).mrtd).not.toEqual(tdxMrtd(short).mrtd);
    const zeroedTail = Buffer.from(full);
    zeroedTail.fill(0, 0x1800, 0x2000);
    expect(tdxMrtd(zeroedTail).mrtd).toEqual(tdxMrtd(short).mrtd);
    const changed = Buffer.from(full);
    changed[0x10] = 0;
    expect(tdxMrtd(changed).mrtd).not.toEqual(tdxMrtd(full).mrtd);
  });

  const cases: [string, Parameters<typeof synthImage>[0], RegExp][] = [
    [
      'no TDX metadata, SEV metadata instead',
      { entries: 'sev' },
      /no TDX metadata .*the image has SEV metadata \(dc886566-984a-4798-a75e-5585a7bf67cc\) instead/,
    ],
    [
      'no footer table at all',
      { entries: 'none' },
      /no TDX metadata \(no OVMF footer entry e47a6535-984a-4798-865e-4685a7bf8ec2 and no td-shim metadata pointer\)$/,
    ],
    ['bad signature', { descriptor: (d) => d.write('XXXX', 0, 'latin1') }, /signature "XXXX", expected "TDVF"/],
    ['bad version', { descriptor: (d) => d.writeUInt32LE(2, 8) }, /version 2, only version 1/],
    ['descriptor length too small', { descriptor: (d) => d.writeUInt32LE(16, 4) }, /descriptor length 16 is too small for 1 sections \(needs 48\)/],
    [
      'section table past EOF',
      { descriptor: (d) => (d.writeUInt32LE(0x10000, 12), d.writeUInt32LE(16 + 32 * 0x10000, 4)) },
      /TDVF metadata section table: range .* lies outside/,
    ],
    ['unknown section type', { sections: [[0, 0x1000, 0xff000000, 0x1000, 9, 1]] }, /section 0 has unknown type 9/],
    ['unknown attribute', { sections: [[0, 0x1000, 0xff000000, 0x1000, 0, 4]] }, /unknown attribute bits 0x4/],
    ['misaligned section', { sections: [[0, 0x1000, 0xff000800, 0x1000, 0, 1]] }, /not 4 KiB aligned/],
    ['raw data past EOF', { sections: [[0x1000, 0x10000, 0xff000000, 0x10000, 0, 1]] }, /raw data 0x1000\+0x10000 lies past the end/],
    [
      'overlapping pages',
      {
        sections: [
          [0, 0x1000, 0xff000000, 0x2000, 0, 1],
          [0, 0, 0xff001000, 0x1000, 3, 0],
        ],
      },
      /sections 0 \(BFV\) and 1 \(TempMem\) overlap at page 0xff001000/,
    ],
  ];
  for (const [name, opts, re] of cases) {
    it(`rejects: ${name}`, () => {
      let err: unknown;
      try {
        parseTdvfMetadata(synthImage(opts));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    });
  }
});

describeShared('cvm-measure measure tdx (CLI)', () => {
  const tdx = loadVectors<{ vectors: MrtdVector[] }>('tdx').vectors;
  const debian = tdx.find((v) => v.id.endsWith('OVMF.fd'))!;

  it('--json prints the MRTD for each page order', async () => {
    for (const [order, expected] of [
      ['single', debian.expected.mrtd_single_pass],
      ['two-pass', debian.expected.mrtd_two_pass],
    ] as const) {
      const r = await cli(['measure', 'tdx', '--firmware', shared(`${DEBIAN}OVMF.fd`), '--page-order', order, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ kind: 'tdx', mrtd: expected, pageOrder: order, firmware: { sha256: debian.input.sha256, metadata: 'ovmf-footer' } });
      expect(j.sections).toHaveLength(6);
      expect(j.rtmr0.computed).toBe(false);
      expect(j.rtmr).toBeUndefined();
    }
  });

  it('text output names the page order and what RTMR0 depends on', async () => {
    const r = await cli(['measure', 'tdx', '--firmware', shared('fixtures/tdx/gce-clean-example-2MiB.fd')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`MRTD (single): ${tdx[0]!.expected.mrtd_single_pass}`);
    expect(r.stdout).toMatch(/RTMR0: not computed; it depends on the TD HOB/);
  });

  const errors: [string, string[], number, RegExp][] = [
    [
      'split OVMF_CODE.fd',
      ['--firmware', shared(`${DEBIAN}OVMF_CODE.fd`)],
      1,
      /TDVF metadata: section 0 \(BFV .*\) raw data .* lies past the end of the 0x1e0000-byte file/,
    ],
    ['no TDX metadata', ['--firmware', shared(`${DEBIAN}OVMF_CODE_4M.fd`)], 1, /TDVF metadata: no TDX metadata/],
    ['missing file', ['--firmware', '/nonexistent/OVMF.fd'], 1, /cannot read firmware \/nonexistent\/OVMF.fd: ENOENT/],
    ['bad page order', ['--firmware', shared(`${DEBIAN}OVMF.fd`), '--page-order', 'three'], 2, /--page-order: "three" is not one of single, two-pass/],
    ['initrd without kernel', ['--firmware', shared(`${DEBIAN}OVMF.fd`), '--initrd', shared('fixtures/pcr/initrd-a.cpio')], 2, /--initrd needs --kernel/],
    [
      'bad QEMU version',
      ['--firmware', shared(`${DEBIAN}OVMF.fd`), '--kernel', shared('fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64'), '--qemu-version', 'latest'],
      2,
      /--qemu-version: expected a version/,
    ],
    [
      'kernel that is not a bzImage',
      ['--firmware', shared(`${DEBIAN}OVMF.fd`), '--kernel', shared(`${DEBIAN}OVMF.fd`)],
      1,
      /kernel: no Linux boot protocol header/,
    ],
  ];
  for (const [name, args, code, re] of errors) {
    it(`one-line error: ${name}`, async () => {
      const r = await cli(['measure', 'tdx', ...args]);
      expect(r.code).toBe(code);
      expect(errorLine(r)).toMatch(re);
    });
  }
});
