/**
 * RTMR0 model of a QEMU TD (src/measure/tdx/rtmr0.ts, td-hob.ts): the event conventions checked against
 * the real GCE TDX CCEL log, the TD HOB against a layout derived by hand from QEMU's tdx.c rules, and the
 * whole RTMR0 against a hand replay (node:crypto) of blobs hashed in the test.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { loadQemuPlatform, qemuPlatformDocument } from '../src/build/qemu-platform.js';
import { parseCcelTable } from '../src/formats/ccel.js';
import { parseTdvfMetadata } from '../src/formats/tdvf.js';
import { ovmfMemoryVolumes } from '../src/formats/firmware-volume.js';
import { parseEventLog } from '../src/formats/tcg-eventlog.js';
import { bootOptionEvents } from '../src/measure/boot/boot-options.js';
import { separator, variableEvent } from '../src/measure/boot/events.js';
import { tdHob, tdRamEntries } from '../src/measure/tdx/td-hob.js';
import { tdxRtmr0 } from '../src/measure/tdx/rtmr0.js';
import { CC_MR_MAP, replay } from '../src/tcg/index.js';
import { toHex } from '../src/util/bytes.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, ROOT, shared } from './helpers/shared.js';

const sha384 = (b: Uint8Array) => createHash('sha384').update(b).digest('hex');
/** RTMR extend by hand: R = SHA-384(R || digest) from zero. */
const fold = (digests: string[]) =>
  digests.reduce((r, d) => createHash('sha384').update(Buffer.from(r, 'hex')).update(Buffer.from(d, 'hex')).digest('hex'), '0'.repeat(96));

/** QEMU e820_entry (u64 address, u64 length, u32 type), packed by hand. */
function e820(entries: [number, number, number][]): Buffer {
  return Buffer.concat(
    entries.map(([a, l, t]) => {
      const b = Buffer.alloc(20);
      b.writeBigUInt64LE(BigInt(a), 0);
      b.writeBigUInt64LE(BigInt(l), 8);
      b.writeUInt32LE(t, 16);
      return b;
    }),
  );
}

/** bios-linker-loader ALLOCATE commands (command 1, 56-byte name, alignment, zone) plus one ADD_CHECKSUM (3), by hand. */
function loader(files: string[]): Buffer {
  const cmds = files.map((f) => {
    const b = Buffer.alloc(128);
    b.writeUInt32LE(1, 0);
    b.write(f, 4, 'latin1');
    b.writeUInt32LE(64, 60);
    b[64] = 1;
    return b;
  });
  const sum = Buffer.alloc(128);
  sum.writeUInt32LE(3, 0);
  sum.write(files[0]!, 4, 'latin1');
  return Buffer.concat([...cmds, sum]);
}

describeShared('RTMR0 event conventions against the GCE TDX CCEL (real log)', () => {
  const data = readFileSync(shared('fixtures/tdx/ccel_data.dat'));
  const log = parseEventLog(data.subarray(0, parseCcelTable(readFileSync(shared('fixtures/tdx/ccel_table.dat'))).laml));
  const rtmr0 = log.events.filter((e) => e.pcrIndex === 1 && e.typeName !== 'EV_NO_ACTION');
  const ovmf = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'));

  it("the log's own RTMR0 events replayed with the CC map and src/tcg replay give the quote's RTMR0", () => {
    const v = loadVectors<{ vectors: { id: string; expected: { rtmr: string[] } }[] }>('tdx').vectors.find((x) => x.id === 'gce-cos113-ccel-replay')!;
    const events = log.events
      .filter((e) => e.typeName !== 'EV_NO_ACTION')
      .map((e) => ({ pcr: e.pcrIndex, type: e.typeName, digests: { sha384: Buffer.from(e.digests.sha384!, 'hex') } }));
    expect(toHex(replay(events, CC_MR_MAP, 'sha384', [0]).get(0)!)).toBe(v.expected.rtmr[0]);
  });

  it('Secure Boot variables: the boot model builds the logged digest from the logged variable (UEFI_VARIABLE_DATA hashed whole)', () => {
    const vars = rtmr0.filter((e) => e.typeName === 'EV_EFI_VARIABLE_DRIVER_CONFIG');
    expect(vars.map((e) => e.decoded!.variableName)).toEqual(['SecureBoot', 'PK', 'KEK', 'db', 'dbx']);
    for (const e of vars) {
      const d = e.decoded as { variableGuid: string; variableName: string; variableDataLength: number };
      const value = e.data.subarray(e.data.length - d.variableDataLength);
      const built = variableEvent(7, 'EV_EFI_VARIABLE_DRIVER_CONFIG', d.variableGuid, d.variableName, value, ['sha384']);
      expect(toHex(built.digests.sha384!)).toBe(e.digests.sha384);
    }
  });

  it('one separator in RTMR0, the PFP 00000000 separator of the boot model', () => {
    const seps = rtmr0.filter((e) => e.typeName === 'EV_SEPARATOR');
    expect(seps).toHaveLength(1);
    expect(seps[0]!.digests.sha384).toBe(toHex(separator(7, ['sha384']).digests.sha384!));
  });

  it("boot variables: BootOrder hashed as its data only; the model's UiApp Boot0000 from Debian's OVMF DXE volume is GCE's Boot0000", () => {
    const order = rtmr0.find((e) => e.decoded?.variableName === 'BootOrder')!;
    expect(sha384(order.data.subarray(order.data.length - 4))).toBe(order.digests.sha384);
    const boot0000 = rtmr0.find((e) => e.decoded?.variableName === 'Boot0000')!;
    const model = bootOptionEvents(ovmfMemoryVolumes(ovmf).dxe, { kind: 'direct' }, ['sha384']);
    expect(model[1]!.component).toBe('Boot0000 (UiApp)');
    expect(toHex(model[1]!.digests.sha384!)).toBe(boot0000.digests.sha384);
  });

  it('GCE measures three ACPI EV_PLATFORM_CONFIG_FLAGS between the separator and the boot variables (the order the model uses)', () => {
    const types = rtmr0.map((e) => e.typeName);
    expect(types.slice(0, 2)).toEqual(['EV_EFI_HANDOFF_TABLES2', 'EV_EFI_PLATFORM_FIRMWARE_BLOB2']);
    expect(types.slice(7, 12)).toEqual([
      'EV_SEPARATOR',
      'EV_PLATFORM_CONFIG_FLAGS',
      'EV_PLATFORM_CONFIG_FLAGS',
      'EV_PLATFORM_CONFIG_FLAGS',
      'EV_EFI_VARIABLE_BOOT',
    ]);
  });
});

describeShared('RTMR0 model: TD HOB and a hand-made platform (Debian OVMF.fd)', () => {
  const fw = readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'));
  const sections = parseTdvfMetadata(fw).sections;
  const GiB2 = 0x80000000;

  it('TD HOB: E820 RAM split around the TD_HOB/TempMem sections (QEMU tdx_accept_ram_range), sorted, PHIT + resources', () => {
    // By hand from the sections TempMem 0x800000+0x6000, TD_HOB 0x809000+0x2000, TempMem 0x80b000+0x2000, TempMem 0x810000+0x10000.
    const want: [number, number, boolean][] = [
      [0, 0x800000, false],
      [0x800000, 0x6000, true],
      [0x806000, 0x3000, false],
      [0x809000, 0x2000, true],
      [0x80b000, 0x2000, true],
      [0x80d000, 0x3000, false],
      [0x810000, 0x10000, true],
      [0x820000, GiB2 - 0x820000, false],
    ];
    const ram = tdRamEntries(
      [
        { address: 0, length: GiB2, type: 1 },
        { address: 0xfeffc000, length: 0x4000, type: 2 },
      ],
      sections,
    );
    expect(ram.map((r) => [r.address, r.length, r.accepted])).toEqual(want);
    const hob = Buffer.from(tdHob(0x809000, 0x2000, ram));
    expect(hob.length).toBe(56 + 8 * 48);
    expect([hob.readUInt16LE(0), hob.readUInt16LE(2), hob.readUInt32LE(8)]).toEqual([1, 56, 9]);
    expect(hob.readBigUInt64LE(48)).toBe(BigInt(0x809000 + hob.length + 8));
    for (const [i, [a, l, acc]] of want.entries()) {
      const r = hob.subarray(56 + 48 * i);
      expect([r.readUInt16LE(0), r.readUInt16LE(2), r.readUInt32LE(24), r.readUInt32LE(28)]).toEqual([3, 48, acc ? 0 : 7, 7]);
      expect([Number(r.readBigUInt64LE(32)), Number(r.readBigUInt64LE(40))]).toEqual([a, l]);
    }
  });

  it('refuses a TDVF section outside guest RAM and a HOB that overruns its section', () => {
    expect(() => tdRamEntries([{ address: 0, length: 0x800000, type: 1 }], sections)).toThrow(/not inside one unaccepted RAM range/);
    expect(() => tdHob(0x809000, 0x100, tdRamEntries([{ address: 0, length: GiB2, type: 1 }], sections))).toThrow(/overruns/);
  });

  const tables = Buffer.from('ACPI tables blob '.repeat(50));
  const rsdp = Buffer.from('RSD PTR rsdp blob');
  const files = new Map<string, Uint8Array>([
    ['etc/e820', e820([[0, GiB2, 1]])],
    ['etc/table-loader', loader(['etc/acpi/rsdp', 'etc/acpi/tables'])],
    ['etc/acpi/tables', tables],
    ['etc/acpi/rsdp', rsdp],
    ['bootorder', Buffer.from('/rom@genroms/linuxboot_dma.bin\0')],
  ]);

  it('RTMR0 = hand replay of: TD HOB, CFV bytes, 5 Secure Boot variables, separator, table-loader, allocated blobs in command order, BootOrder, Boot0000', () => {
    const m = tdxRtmr0(fw, { files, bootMenu: 0 }, 'legacy');
    const cfv = sections.find((s) => s.type === 'CFV')!;
    const d = m.events.map((e) => toHex(e.digests.sha384!));
    expect(m.events.map((e) => e.type)).toEqual([
      'EV_EFI_HANDOFF_TABLES2',
      'EV_EFI_PLATFORM_FIRMWARE_BLOB2',
      ...Array(5).fill('EV_EFI_VARIABLE_DRIVER_CONFIG'),
      'EV_SEPARATOR',
      ...Array(3).fill('EV_PLATFORM_CONFIG_FLAGS'),
      'EV_EFI_VARIABLE_BOOT',
      'EV_EFI_VARIABLE_BOOT',
    ]);
    expect(d[0]).toBe(sha384(tdHob(0x809000, 0x2000, m.ram)));
    expect(d[1]).toBe(sha384(fw.subarray(cfv.dataOffset, cfv.dataOffset + cfv.rawDataSize)));
    expect(d.slice(8, 11)).toEqual([sha384(files.get('etc/table-loader')!), sha384(rsdp), sha384(tables)]);
    expect(d[11]).toBe(sha384(Buffer.from([0, 0])));
    expect(toHex(m.value)).toBe(fold(d));
  });

  it('fw-cfg-cache layout adds BootMenu and bootorder (QemuFwCfgCacheInit.c) before the Secure Boot variables', () => {
    const m = tdxRtmr0(fw, { files, bootMenu: 1 }, 'fw-cfg-cache');
    expect(m.events.slice(2, 4).map((e) => [e.component, toHex(e.digests.sha384!)])).toEqual([
      ['fw_cfg BootMenu', sha384(Buffer.from([1, 0]))],
      ['fw_cfg bootorder', sha384(files.get('bootorder')!)],
    ]);
  });

  it('refuses a table-loader allocating a file the platform lacks, and a platform without etc/e820', () => {
    const noRsdp = new Map(files);
    noRsdp.delete('etc/acpi/rsdp');
    expect(() => tdxRtmr0(fw, { files: noRsdp, bootMenu: 0 }, 'legacy')).toThrow(/allocates fw_cfg file etc\/acpi\/rsdp/);
    const noE820 = new Map(files);
    noE820.delete('etc/e820');
    expect(() => tdxRtmr0(fw, { files: noE820, bootMenu: 0 }, 'legacy')).toThrow(/no fw_cfg etc\/e820/);
  });

  describe('CLI: measure tdx --platform', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rtmr0-'));
    const doc = qemuPlatformDocument({ binary: 'qemu-system-x86_64', version: '7.2.22', args: ['-m', '2048'], captureArgs: [], notes: [] }, 0, files);
    const platform = join(dir, 'platform.json');
    writeFileSync(platform, JSON.stringify(doc));
    const fwPath = shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');

    it('prints RTMR0 with its model status; --json matches the schema and carries the status', async () => {
      const expected = toHex(tdxRtmr0(fw, loadQemuPlatform(readFileSync(platform), platform).fwCfg, 'legacy').value);
      const t = await cli(['measure', 'tdx', '--firmware', fwPath, '--platform', platform]);
      expect(t.code).toBe(0);
      expect(t.stdout).toContain(`RTMR0: ${expected} (model (not hardware-checked); platform ${platform}, QEMU 7.2.22, TDVF events legacy)`);
      expect(t.stderr).toMatch(/tdvfEvents/);
      const j = await cli(['measure', 'tdx', '--firmware', fwPath, '--platform', platform, '--tdvf-events', 'legacy', '--json']);
      const out = JSON.parse(j.stdout);
      expect(out.rtmr0).toMatchObject({ computed: true, value: expected, status: 'model (not hardware-checked)', tdvfEvents: 'legacy' });
      const schema = JSON.parse(readFileSync(join(ROOT, 'schemas/tdx-measure.schema.json'), 'utf8'));
      const validate = new Ajv({ strict: false }).compile(schema);
      expect(validate(out), JSON.stringify(validate.errors)).toBe(true);
    });

    it('hostile platform.json: one-line errors, --json failure object', async () => {
      const cases: [string, string, RegExp][] = [
        ['not-json', '{', /not JSON/],
        ['schema', JSON.stringify({ ...doc, extra: 1 }), /must NOT have additional properties "extra"/],
        [
          'digest',
          JSON.stringify({ ...doc, fwCfg: { ...doc.fwCfg, 'etc/e820': { ...doc.fwCfg['etc/e820']!, sha384: 'a'.repeat(96) } } }),
          /etc\/e820: blob does not match its sha384/,
        ],
        ['size', JSON.stringify({ ...doc, fwCfg: { ...doc.fwCfg, 'etc/e820': { ...doc.fwCfg['etc/e820']!, size: 1 } } }), /blob has 20 bytes, size says 1/],
        ['missing', JSON.stringify({ ...doc, blobs: {} }), /no blob/],
        ['base64', JSON.stringify({ ...doc, blobs: { ...doc.blobs, [doc.fwCfg['etc/e820']!.sha256]: 'AAA' } }), /not canonical base64/],
      ];
      for (const [name, text, re] of cases) {
        const p = join(dir, `${name}.json`);
        writeFileSync(p, text);
        const r = await cli(['measure', 'tdx', '--firmware', fwPath, '--platform', p]);
        expect(r.code, name).toBe(1);
        expect(errorLine(r), name).toMatch(re);
        const j = await cli(['measure', 'tdx', '--firmware', fwPath, '--platform', p, '--json']);
        expect(JSON.parse(j.stdout), name).toMatchObject({ ok: false, error: { code: expect.any(String) } });
      }
    });

    it('eventlog diff: the GCE CCEL against the model, event by event, naming what differs (GCE is not QEMU)', async () => {
      const j = await cli(['measure', 'tdx', '--firmware', fwPath, '--platform', platform, '--json']);
      const expectedFile = join(dir, 'td.json');
      writeFileSync(expectedFile, j.stdout);
      const args = [
        'eventlog',
        'diff',
        shared('fixtures/tdx/ccel_data.dat'),
        '--ccel-table',
        shared('fixtures/tdx/ccel_table.dat'),
        '--expected',
        expectedFile,
      ];
      const t = await cli(args);
      expect(t.code).toBe(1);
      expect(errorLine(t)).toMatch(/RTMR0 differs from the model in \d+ of \d+ events/);
      expect(t.stdout).toMatch(/≠ #1 +TD HOB .*the VMM's memory map differs/);
      expect(t.stdout).toMatch(/≠ #2 +CFV .*Fv\(48DB5E17-707C-472D-91CD-1613E7EF51B0\) at 0xffe00000\+131072/);
      expect(t.stdout).toMatch(/≠ #4 +PK .*PK \(1097 bytes in the log\)/);
      expect(t.stdout).toMatch(/= #8 +separator/);
      expect(t.stdout).toMatch(/≠ #9 +ACPI etc\/table-loader .*VMM serves other ACPI tables/);
      expect(t.stdout).toMatch(/≠ #12 +BootOrder \(0000\) .*BootOrder 0001,0000/);
      // GCE's UiApp entry is the model's: paired across GCE's extra Boot0001 instead of shifting.
      expect(t.stdout).toMatch(/≠ #13 +\(not predicted\) EV_EFI_VARIABLE_BOOT: boot entry Boot0001/);
      expect(t.stdout).toMatch(/= #14 +Boot0000 \(UiApp\)/);
      expect(t.stdout).toMatch(/#21 .*SbatLevel: measured by the boot loader \(shim\)/);
      const r = await cli([...args, '--json']);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ ok: false, kind: 'tdx', register: 'rtmr0', status: 'model (not hardware-checked)', match: false });
      const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas/tdx-eventlog-diff.schema.json'), 'utf8')));
      expect(validate(out), JSON.stringify(validate.errors)).toBe(true);
      const pcr = await cli([...args.slice(0, 3), '--ccel', '--expected', platform]);
      expect(errorLine(pcr)).toMatch(/not the --json output of `measure tdx --platform`/);
    });

    it('--tdvf-events without --platform is a usage error', async () => {
      const r = await cli(['measure', 'tdx', '--firmware', fwPath, '--tdvf-events', 'legacy']);
      expect(r.code).toBe(2);
      expect(errorLine(r)).toMatch(/--tdvf-events needs --platform/);
    });
  });
});
