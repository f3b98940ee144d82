/** TCG2 event logs: the GCE CCEL log replays to the RTMRs of its hardware quote; the QEMU/swtpm TPM log to the PCRs read in the guest. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCcelTable } from '../src/formats/ccel.js';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { groupByComponent } from '../src/formats/eventlog-components.js';
import { FormatError } from '../src/errors.js';
import { cli, errorLine } from './helpers/cli.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';

interface ReplayVector {
  id: string;
  params: { events: number };
  expected: { rtmr: string[]; mrtd: string };
  event_digest_vectors: { digests: Record<string, string> };
}
interface PcrVector {
  name: string;
  pcrs: Record<'sha1' | 'sha256' | 'sha384', Record<string, string>>;
  replay_check: Record<string, { mismatch: string[] }>;
  events: { pcr: number; type: string; sha256: string }[];
  fixture_paths: { eventlog: string };
}

describeShared('CCEL replay (GCE COS 113, tdx.json gce-cos113-ccel-replay)', () => {
  const v = loadVectors<{ vectors: ReplayVector[] }>('tdx').vectors.find((x) => x.id === 'gce-cos113-ccel-replay')!;
  const data = readFileSync(shared('fixtures/tdx/ccel_data.dat'));
  const table = parseCcelTable(readFileSync(shared('fixtures/tdx/ccel_table.dat')));
  const log = parseEventLog(data.subarray(0, table.laml));

  it('table: CCEL rev 1, TDX, LAML 0x40000, LASA 0xbedbf000', () => {
    expect(table).toMatchObject({ revision: 1, ccType: 2, ccTypeName: 'TDX', laml: 0x40000, lasa: '0xbedbf000' });
  });

  it('log: crypto-agile, SHA-384 only, 44 events (header + 43), rest of the area is 0xFF fill', () => {
    expect(log.format).toBe('tcg2');
    expect(log.algorithms).toEqual(['sha384']);
    expect(log.events).toHaveLength(v.params.events);
    expect(data.subarray(log.length).every((b) => b === 0xff)).toBe(true);
  });

  it('replays to the four RTMRs of the hardware quote', () => {
    const r = replayEventLog(log.events, { alg: 'sha384', map: 'ccel' });
    expect([r.rtmr0, r.rtmr1, r.rtmr2, r.rtmr3]).toEqual(v.expected.rtmr);
  });

  it('EV_EFI_ACTION / EV_SEPARATOR digests are SHA-384 of the string / of 00000000', () => {
    const byText = new Map(log.events.filter((e) => e.typeName === 'EV_EFI_ACTION').map((e) => [e.decoded!.text as string, e.digests.sha384]));
    for (const [k, d] of Object.entries(v.event_digest_vectors.digests)) {
      if (k.startsWith('EV_SEPARATOR')) expect(log.events.filter((e) => e.typeName === 'EV_SEPARATOR').map((e) => e.digests.sha384)).toContain(d);
      else expect(byText.get(k)).toBe(d);
    }
  });

  it('decodes known event data (variables, firmware blobs, EV_IPL strings)', () => {
    expect(log.events[2]!.decoded).toMatchObject({ description: 'Fv(48DB5E17-707C-472D-91CD-1613E7EF51B0)', blobBase: '0xffe00000', blobLength: 0x20000 });
    expect(log.events[3]!.decoded).toMatchObject({ variableGuid: '8be4df61-93ca-11d2-aa0d-00e098032b8c', variableName: 'SecureBoot', variableDataLength: 1 });
    expect(log.events.some((e) => e.typeName === 'EV_IPL' && String(e.decoded?.text).startsWith('kernel_cmdline: /syslinux/vmlinuz.A'))).toBe(true);
  });

  it('--explain groups: variables, boot loader (shim, grub), kernel cmdline', () => {
    const g = Object.fromEntries(groupByComponent(log.events).map((x) => [x.component, x.events]));
    expect(g.variables).toContain(3);
    expect(g.cmdline).toContain(41);
    expect(g['boot loader']).toEqual(expect.arrayContaining([18, 24]));
  });

  it('CLI: eventlog replay --ccel-table --json', async () => {
    const r = await cli([
      'eventlog',
      'replay',
      shared('fixtures/tdx/ccel_data.dat'),
      '--ccel-table',
      shared('fixtures/tdx/ccel_table.dat'),
      '--json',
      '--explain',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe('tdx');
    expect([j.rtmr['0'], j.rtmr['1'], j.rtmr['2'], j.rtmr['3']]).toEqual(v.expected.rtmr);
    expect(j.events).toHaveLength(44);
    expect(j.events[15]).toMatchObject({ register: 'RTMR1', type: 'EV_EFI_ACTION', data: { text: 'Calling EFI Application from Boot Option' } });
    expect(j.components.map((c: { component: string }) => c.component)).toContain('cmdline');
  });

  it('CLI: without --ccel it warns that the log looks like CCEL', async () => {
    const r = await cli(['eventlog', 'replay', shared('fixtures/tdx/ccel_data.dat')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/looks like a TDX CCEL log/);
  });
});

describeShared('TPM event log replay (pcr.json direct-6.1-tcg)', () => {
  const v = loadVectors<{ vectors: PcrVector[] }>('pcr').vectors.find((x) => x.name === 'direct-6.1-tcg')!;
  const log = parseEventLog(readFileSync(shared(v.fixture_paths.eventlog)));

  it('events equal the vector event list (PCR, type, SHA-256)', () => {
    const events = log.events.slice(1).map((e) => ({ pcr: e.pcrIndex, type: e.typeName, sha256: e.digests.sha256 }));
    expect(events).toEqual(v.events.map((e) => ({ pcr: e.pcr, type: e.type, sha256: e.sha256 })));
  });

  for (const alg of ['sha1', 'sha256', 'sha384'] as const) {
    it(`${alg}: replay equals the PCRs read in the guest (except those the vector marks as mismatching: IMA PCR10)`, () => {
      const r = replayEventLog(log.events, { alg, map: 'pcr' });
      const skip = new Set(v.replay_check[alg]!.mismatch);
      const compared = Object.keys(r).filter((k) => !skip.has(k));
      expect(compared.length).toBeGreaterThanOrEqual(9);
      for (const k of compared) expect(r[k], `PCR${k}`).toBe(v.pcrs[alg][k]);
    });
  }

  it('--explain: QEMU kernel image, EFI-stub LoadOptions and initrd tags; systemd-stub sections of the UKI boot', () => {
    const g = Object.fromEntries(groupByComponent(log.events).map((x) => [x.component, x.events.map((i) => log.events[i]!.typeName)]));
    expect(g.kernel).toEqual(['EV_EFI_BOOT_SERVICES_APPLICATION']);
    expect(g.cmdline).toEqual(['EV_EVENT_TAG']);
    expect(g.initrd).toEqual(['EV_EVENT_TAG']);
    const uki = parseEventLog(readFileSync(shared('fixtures/pcr/uki-6.1-m1024.eventlog.bin')));
    const u = Object.fromEntries(
      groupByComponent(uki.events).map((x) => [x.component, x.events.map((i) => uki.events[i]!.decoded?.text ?? uki.events[i]!.typeName)]),
    );
    expect(u.kernel).toEqual(['.linux', '.linux']);
    expect(u.cmdline).toEqual(['.cmdline', '.cmdline', 'EV_EVENT_TAG']);
    expect(u.initrd).toEqual(['.initrd', '.initrd', 'EV_EVENT_TAG']);
  });

  it('CLI: eventlog replay --json prints every bank', async () => {
    const r = await cli(['eventlog', 'replay', shared(v.fixture_paths.eventlog), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.kind).toBe('pcr');
    expect(j.pcrs.sha256['4']).toBe(v.pcrs.sha256['4']);
    expect(j.pcrs.sha384['9']).toBe(v.pcrs.sha384['9']);
  });
});

describeShared('malformed logs and tables: typed one-line errors', () => {
  const good = readFileSync(shared('fixtures/pcr/direct-6.1-m1024.eventlog.bin'));
  const ccel = readFileSync(shared('fixtures/tdx/ccel_data.dat'));
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(FormatError);
      expect((e as Error).message).not.toContain('\n');
      return (e as Error).message;
    }
    throw new Error('expected a FormatError');
  };

  it('truncated in the middle of an event', () => {
    expect(err(() => parseEventLog(good.subarray(0, good.length - 10)))).toMatch(
      /^TCG event log: truncated at offset 0x[0-9a-f]+: event 24 \(at 0x[0-9a-f]+\) needs \d+ bytes for \d+-byte event data/,
    );
  });
  it('too short for a header', () => {
    expect(err(() => parseEventLog(Buffer.alloc(10)))).toMatch(/too short for a TCG_PCR_EVENT header/);
  });
  it('garbage after the header event', () => {
    const g = Buffer.concat([good.subarray(0, 0x4d), Buffer.from('garbage!garbage!garbage!')]);
    expect(err(() => parseEventLog(g))).toMatch(/event 1 .* (has \d+ digests|truncated|uses algorithm)/);
  });
  it('a digest algorithm the Spec ID event did not announce', () => {
    const g = Buffer.from(ccel.subarray(0, 0x200));
    // the first TCG_PCR_EVENT2 follows the SHA-1-format header event; its first digest's algorithm (0x000c) becomes 0x000b
    const hdrLen = 32 + g.readUInt32LE(28);
    g.writeUInt16LE(0x000b, hdrLen + 12);
    expect(err(() => parseEventLog(g))).toMatch(/uses algorithm 0xb not announced by the Spec ID event/);
  });
  it('replay of a bank the log lacks', () => {
    const log = parseEventLog(ccel);
    expect(err(() => replayEventLog(log.events, { alg: 'sha256', map: 'ccel' }))).toMatch(/event 1 \(EV_EFI_HANDOFF_TABLES2\) has no sha256 digest/);
  });
  it('CCEL table: bad signature, bad checksum, too short', () => {
    const t = readFileSync(shared('fixtures/tdx/ccel_table.dat'));
    expect(err(() => parseCcelTable(t.subarray(0, 40)))).toMatch(/too short/);
    const bad = Buffer.from(t);
    bad.write('XXXX', 0, 'latin1');
    expect(err(() => parseCcelTable(bad))).toMatch(/signature is "XXXX"/);
    const sum = Buffer.from(t);
    sum[50] = sum[50]! ^ 1;
    expect(err(() => parseCcelTable(sum))).toMatch(/checksum mismatch/);
  });

  it('an all-zero input is not a log', () => {
    expect(err(() => parseEventLog(readFileSync(shared('fixtures/tdx/nonce.dat'))))).toMatch(/no events: the input starts with 0x00 fill bytes/);
  });
  it('CLI: garbage log (a TDX quote) → one-line error, exit 1', async () => {
    const r = await cli(['eventlog', 'replay', shared('fixtures/tdx/cos-113-tdx-quote.dat')]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/TCG event log: truncated at offset 0x[0-9a-f]+: event \d+ \(at 0x[0-9a-f]+\) needs \d+ bytes/);
  });
  it('CLI: --ccel-table that is not a CCEL table', async () => {
    const r = await cli(['eventlog', 'replay', shared('fixtures/tdx/ccel_data.dat'), '--ccel-table', shared('fixtures/tdx/nonce.dat')]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/CCEL table: signature is/);
  });
});

describe('legacy SHA-1 log', () => {
  it('parses TCG_PCR_EVENT records and replays them', () => {
    const ev = (pcr: number, type: number, data: Buffer, digest: Buffer) => {
      const h = Buffer.alloc(32);
      h.writeUInt32LE(pcr, 0);
      h.writeUInt32LE(type, 4);
      digest.copy(h, 8);
      h.writeUInt32LE(data.length, 28);
      return Buffer.concat([h, data]);
    };
    const d = Buffer.alloc(20, 1);
    const log = parseEventLog(Buffer.concat([ev(0, 8, Buffer.from('v1\0\0', 'latin1'), d), ev(0, 4, Buffer.alloc(4), d)]));
    expect(log.format).toBe('sha1');
    expect(log.events).toHaveLength(2);
    const r = replayEventLog(log.events, { alg: 'sha1', map: 'pcr' });
    expect(Object.keys(r)).toEqual(['0']);
  });
});
