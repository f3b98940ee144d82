/**
 * The measure path runs in a browser: esbuild bundles the pure functions for the platform 'browser'
 * (a node: import anywhere they reach fails the bundle: nothing is marked external), headless Debian
 * chromium (playwright-core, never a downloaded browser) runs the bundle on fixture bytes served from
 * 127.0.0.1, and the SNP launch digests, the TDX MRTD, the event-log parse + replay, the UKI boot's PCRs
 * (`pcrMeasurement`, shape uki: UKI, GPT, UEFI variables, systemd-stub and Linux EFI stub events) and the
 * TDX RTMRs of a direct kernel boot (`tdxMeasurement` with kernel, initrd and command line: the QEMU
 * setup-header patch) must equal what this Node process computes with the same functions (native
 * node:crypto here, @noble/hashes there); the PCRs and RTMR2 also equal the real boots of vectors/pcr.json.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { readCpio } from '../src/formats/cpio.js';
import { parseUki } from '../src/formats/uki.js';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { snpLaunchDigest } from '../src/measure/snp/launch.js';
import { tdxMeasurement } from '../src/measure/tdx/report.js';
import { tdxMrtd } from '../src/measure/tdx/mrtd.js';
import { pcrMeasurement } from '../src/measure/tpm/report.js';
import { REPLAY_ALGS, type HashAlg } from '../src/tcg/index.js';
import { toHex } from '../src/util/bytes.js';
import { describeBrowser, runInBrowser } from './helpers/browser.js';
import { loadVectors, shared } from './helpers/shared.js';

/** URL path → fixture under ../shared. */
const FILES = {
  '/ovmf.fd': 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd',
  '/eventlog.bin': 'fixtures/pcr/direct-6.1-m1024.eventlog.bin',
  '/uki.efi': 'fixtures/pcr/uki-6.1.efi',
  '/gpt.bin': 'fixtures/pcr/uki-disk-gpt-head.bin',
  '/vars.fd': 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF_VARS_4M.fd',
  '/initrd.cpio': 'fixtures/pcr/initrd-a.cpio',
};
type Files = Record<keyof typeof FILES, Uint8Array>;

/** The page's entry: the same computation as `compute` below, on bytes fetched from the test server (the package entries, as a browser app imports them). */
const ENTRY = `
import { snpLaunchDigest, tdxMrtd, tdxMeasurement, pcrMeasurement } from './src/entry/measure.ts';
import { parseEventLog, replayEventLog, readCpio, parseUki } from './src/entry/formats.ts';
import { REPLAY_ALGS } from './src/entry/tcg.ts';
import { toHex } from './src/util/bytes.ts';
const get = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
globalThis.run = async () => {
  const paths = ${JSON.stringify(Object.keys(FILES))};
  const files = Object.fromEntries(await Promise.all(paths.map(async (p) => [p, await get(p)])));
  const fns = { snpLaunchDigest, tdxMrtd, tdxMeasurement, pcrMeasurement, parseEventLog, replayEventLog, readCpio, parseUki, REPLAY_ALGS, toHex };
  return (${compute.toString()})(files, fns);
};
`;

interface Fns {
  snpLaunchDigest: typeof snpLaunchDigest;
  tdxMrtd: typeof tdxMrtd;
  tdxMeasurement: typeof tdxMeasurement;
  pcrMeasurement: typeof pcrMeasurement;
  parseEventLog: typeof parseEventLog;
  replayEventLog: typeof replayEventLog;
  readCpio: typeof readCpio;
  parseUki: typeof parseUki;
  REPLAY_ALGS: readonly HashAlg[];
  toHex: typeof toHex;
}

/** Runs in both places (serialised into the bundle's entry), so it names only its arguments. */
function compute(files: Files, f: Fns) {
  const firmware = files['/ovmf.fd'];
  const parsed = f.parseEventLog(files['/eventlog.bin']);
  const banks = parsed.algorithms.filter((a): a is HashAlg => f.REPLAY_ALGS.includes(a as HashAlg));
  const uki = f.pcrMeasurement(
    { shape: 'uki', uki: { name: 'uki.efi', bytes: files['/uki.efi'] }, gpt: files['/gpt.bin'], vars: { name: 'vars.fd', bytes: files['/vars.fd'] } },
    { banks: ['sha256'] },
  );
  // the UKI's .linux is the Debian 6.1 kernel of the direct boot (vmlinuz-6.1.0-56-amd64, byte for byte): 8 MiB less to serve
  const kernel = f.parseUki(files['/uki.efi']).sections.get('.linux')!;
  const tdx = f.tdxMeasurement(
    {
      firmware: { name: 'OVMF.fd', bytes: firmware },
      kernel: { name: 'vmlinuz', bytes: kernel },
      initrd: { name: 'initrd.cpio', bytes: files['/initrd.cpio'] },
      cmdline: 'console=ttyS0 panic=-1',
    },
    { memMiB: 1024, qemuVersion: '7.2' },
  );
  return {
    snp: [1, 2].map((vcpus) => f.toHex(f.snpLaunchDigest({ firmware, vcpu: { type: 'EPYC-v4' }, vcpus }))),
    mrtd: f.toHex(f.tdxMrtd(firmware).mrtd),
    events: parsed.events.map((e) => ({ ...e, data: f.toHex(e.data) })),
    replay: Object.fromEntries(banks.map((alg) => [alg, f.replayEventLog(parsed.events, { alg, map: 'pcr' })])),
    uki,
    tdx,
    initrd: f.readCpio(files['/initrd.cpio']).map((m) => ({ path: m.path, type: m.type, mode: m.mode, size: m.data.length, target: m.target })),
  };
}

interface PcrVector {
  name: string;
  pcrs: Record<HashAlg, Record<string, string>>;
}

describeBrowser('measure path in a browser', () => {
  it('SNP digests, TDX MRTD and RTMRs (direct kernel boot), event-log replay and the UKI boot PCRs equal the Node results', async () => {
    const files = Object.fromEntries(Object.entries(FILES).map(([p, f]) => [p, readFileSync(shared(f))])) as unknown as Files;
    const run = await runInBrowser(ENTRY, files);
    const fns = { snpLaunchDigest, tdxMrtd, tdxMeasurement, pcrMeasurement, parseEventLog, replayEventLog, readCpio, parseUki, REPLAY_ALGS, toHex };
    const want = compute(files, fns);
    expect(run.errors).toEqual([]);
    expect(run.node).toBe(false);
    expect(run.result).toEqual(JSON.parse(JSON.stringify(want)));
    expect(want.snp).toHaveLength(2);
    expect(Object.keys(want.replay).length).toBeGreaterThan(0);
    expect(want.initrd.length).toBeGreaterThan(0);
    // anchored to the real boots, not only to Node: the UKI boot's predicted PCRs and the direct boot's PCR9 (= RTMR2)
    const V = loadVectors<{ vectors: PcrVector[]; pcr_classes: { predictable_from_inputs: Record<string, unknown> } }>('pcr');
    const vectors = V.vectors;
    const ukiBoot = vectors.find((v) => v.name === 'uki-6.1-tcg')!;
    const predicted = Object.keys(V.pcr_classes.predictable_from_inputs);
    expect(predicted.length).toBeGreaterThanOrEqual(10);
    expect(predicted.map((i) => want.uki.pcrs.sha256![i])).toEqual(predicted.map((i) => ukiBoot.pcrs.sha256[i]));
    const vmlinuz = readFileSync(shared('fixtures/debian/debian-bookworm-vmlinuz-6.1.0-56-amd64'));
    expect(Buffer.from(parseUki(files['/uki.efi']).sections.get('.linux')!).equals(vmlinuz)).toBe(true);
    expect(want.tdx.rtmr?.['2']).toBe(vectors.find((v) => v.name === 'direct-6.1-tcg')!.pcrs.sha384['9']);
  });
});
