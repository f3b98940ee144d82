/**
 * Acceptance: RTMR1/RTMR2 of a direct boot of the Debian kernel + initrd fixtures, predicted by the shared
 * boot-event model through the CC map, are the real PCR2–6 / PCR8–15 events of the pcr.json boot (same
 * events, SHA-384 digests from its TPM log, one separator per RTMR).
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseEventLog, type TcgEvent } from '../src/formats/tcg-eventlog.js';
import type { MeasuredEvent } from '../src/measure/boot/index.js';
import { CC_RTMR_MAP, type EventType } from '../src/tcg/index.js';
import { qemuPatchesSetupHeader, rtmrsFromBootEvents, tdxDirectBootRtmrs } from '../src/measure/tdx/rtmr.js';
import { toHex } from '../src/util/bytes.js';
import { cli } from './helpers/cli.js';
import { describeShared, loadVectors, shared } from './helpers/shared.js';

interface PcrVector {
  name: string;
  inputs: { kernel: { sha256: string; authenticode_sha256: string }; initrd: { sha256: string }; cmdline: string };
  qemu_cmdline: string;
  guest: { cmdline: string };
  pcrs: Record<'sha384', Record<string, string>>;
  events: { pcr: number; type: string; sha256: string }[];
  fixture_paths: { kernel: string; initrd: string; eventlog: string };
}

/** A logged TPM event as a boot-model event (sha384 digest only). */
function asMeasured(e: TcgEvent): MeasuredEvent {
  return { pcr: e.pcrIndex, type: e.typeName as EventType, component: e.typeName, digests: { sha384: Buffer.from(e.digests.sha384!, 'hex') } };
}

describeShared('TDX RTMR1/RTMR2 for a direct kernel boot vs the real pcr.json boot', () => {
  const pcr = loadVectors<{ vectors: PcrVector[] }>('pcr').vectors;
  const v = pcr.find((x) => x.name === 'direct-6.1-tcg')!;
  const mem = Number(/-m (\d+)/.exec(v.qemu_cmdline)![1]);
  const kernel = readFileSync(shared(v.fixture_paths.kernel));
  const initrd = readFileSync(shared(v.fixture_paths.initrd));
  // QEMU 7.2 patched the setup header, as every QEMU before 10.2 does for a TDX guest.
  const predicted = tdxDirectBootRtmrs({ kernel, initrd, cmdline: v.inputs.cmdline, memMiB: mem, patchSetupHeader: qemuPatchesSetupHeader('7.2') });
  const real = parseEventLog(readFileSync(shared(v.fixture_paths.eventlog)))
    .events.slice(1)
    .map(asMeasured);
  const realCc = rtmrsFromBootEvents(real);

  it('the TPM log is the vector boot (its PCR4/PCR9 SHA-256 events are the vector events)', () => {
    const log = parseEventLog(readFileSync(shared(v.fixture_paths.eventlog)));
    const pick = (pcrs: number[]) => log.events.filter((e) => pcrs.includes(e.pcrIndex)).map((e) => e.digests.sha256);
    expect(pick([4, 9])).toEqual(v.events.filter((e) => e.pcr === 4 || e.pcr === 9).map((e) => e.sha256));
  });

  for (const rtmr of [1, 2]) {
    it(`RTMR${rtmr}: the same events (type and SHA-384) as the real log through the CC map`, () => {
      const mine = predicted.events.filter((e) => e.rtmr === rtmr).map((e) => [e.type, e.sha384]);
      const theirs = realCc.events.filter((e) => e.rtmr === rtmr).map((e) => [e.type, e.sha384]);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      expect(mine).toEqual(theirs);
    });
    it(`RTMR${rtmr}: the same value as replaying the real log's SHA-384 events`, () => {
      expect(toHex(predicted.rtmr[rtmr]!)).toBe(toHex(realCc.rtmr[rtmr]!));
    });
  }

  it('RTMR1 is kernel, "Calling EFI Application", one separator, ExitBootServices x2', () => {
    expect(predicted.events.filter((e) => e.rtmr === 1).map((e) => `${e.pcr}:${e.type}`)).toEqual([
      '4:EV_EFI_BOOT_SERVICES_APPLICATION',
      '4:EV_EFI_ACTION',
      '2:EV_SEPARATOR',
      '5:EV_EFI_ACTION',
      '5:EV_EFI_ACTION',
    ]);
    // the TPM saw five separators on PCR2–6; edk2's CC measurement logs one per RTMR
    expect(real.filter((e) => e.type === 'EV_SEPARATOR' && CC_RTMR_MAP.map(e.pcr) === 1)).toHaveLength(5);
    expect(CC_RTMR_MAP.select(real).filter((e) => e.type === 'EV_SEPARATOR' && CC_RTMR_MAP.map(e.pcr) === 1)).toHaveLength(1);
  });

  it('RTMR2 equals the real SHA-384 PCR9 (no separator on PCR8–15), with the LoadOptions the guest saw', () => {
    expect(toHex(predicted.rtmr[2]!)).toBe(v.pcrs.sha384['9']);
    expect(predicted.measuredCmdline).toBe(v.guest.cmdline);
  });

  it('QEMU >= 10.2 measures the unmodified kernel: its Authenticode event is the one the UKI boot logged for .linux', () => {
    expect(qemuPatchesSetupHeader('10.1.3')).toBe(true);
    expect(qemuPatchesSetupHeader('10.2.0')).toBe(false);
    const unpatched = tdxDirectBootRtmrs({ kernel, initrd, cmdline: v.inputs.cmdline, memMiB: mem, patchSetupHeader: false });
    const uki = pcr.find((x) => x.name === 'uki-6.1-tcg')!;
    const ukiLog = parseEventLog(readFileSync(shared(uki.fixture_paths.eventlog)));
    const linux = ukiLog.events.find((e) => e.pcrIndex === 4 && e.digests.sha256 === v.inputs.kernel.authenticode_sha256)!;
    expect(unpatched.events[0]!.sha384).toBe(linux.digests.sha384);
    expect(unpatched.rtmr[1]).not.toEqual(predicted.rtmr[1]);
    expect(unpatched.rtmr[2]).toEqual(predicted.rtmr[2]);
  });

  it('CLI: measure tdx --kernel --initrd --append --mem prints the same RTMRs', async () => {
    const r = await cli([
      'measure',
      'tdx',
      '--firmware',
      shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'),
      '--kernel',
      shared(v.fixture_paths.kernel),
      '--initrd',
      shared(v.fixture_paths.initrd),
      '--append',
      v.inputs.cmdline,
      '--mem',
      String(mem),
      '--qemu-version',
      '7.2',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.rtmr).toEqual({ '1': toHex(realCc.rtmr[1]!), '2': v.pcrs.sha384['9'] });
    expect(j.boot).toMatchObject({ shape: 'direct', setupHeaderPatched: true, memMiB: mem });
    expect(j.rtmr0.computed).toBe(false);
  });
});
