/**
 * The measure path runs in a browser: esbuild bundles the pure functions for the platform 'browser'
 * (a node: import anywhere they reach fails the bundle: nothing is marked external), headless Debian
 * chromium (playwright-core, never a downloaded browser) runs the bundle on fixture bytes served from
 * 127.0.0.1, and the SNP launch digests, the TDX MRTD and the event-log parse + replay must equal what
 * this Node process computes with the same functions (native node:crypto here, @noble/hashes there).
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { snpLaunchDigest } from '../src/measure/snp/launch.js';
import { tdxMrtd } from '../src/measure/tdx/mrtd.js';
import { REPLAY_ALGS, type HashAlg } from '../src/tcg/index.js';
import { toHex } from '../src/util/bytes.js';
import { describeBrowser, runInBrowser } from './helpers/browser.js';
import { shared } from './helpers/shared.js';

const OVMF = 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd';
const EVENTLOG = 'fixtures/pcr/direct-6.1-m1024.eventlog.bin';

/** The page's entry: the same computation as `compute` below, on bytes fetched from the test server. */
const ENTRY = `
import { snpLaunchDigest } from './src/measure/snp/launch.ts';
import { tdxMrtd } from './src/measure/tdx/mrtd.ts';
import { parseEventLog, replayEventLog } from './src/formats/tcg-eventlog.ts';
import { REPLAY_ALGS } from './src/tcg/index.ts';
import { toHex } from './src/util/bytes.ts';
const get = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
globalThis.run = async () => {
  const [firmware, log] = await Promise.all([get('/ovmf.fd'), get('/eventlog.bin')]);
  return (${compute.toString()})(firmware, log, { snpLaunchDigest, tdxMrtd, parseEventLog, replayEventLog, REPLAY_ALGS, toHex });
};
`;

interface Fns {
  snpLaunchDigest: typeof snpLaunchDigest;
  tdxMrtd: typeof tdxMrtd;
  parseEventLog: typeof parseEventLog;
  replayEventLog: typeof replayEventLog;
  REPLAY_ALGS: readonly HashAlg[];
  toHex: typeof toHex;
}

/** Runs in both places (serialised into the bundle's entry), so it names only its arguments. */
function compute(firmware: Uint8Array, log: Uint8Array, f: Fns) {
  const parsed = f.parseEventLog(log);
  const banks = parsed.algorithms.filter((a): a is HashAlg => f.REPLAY_ALGS.includes(a as HashAlg));
  return {
    snp: [1, 2].map((vcpus) => f.toHex(f.snpLaunchDigest({ firmware, vcpu: { type: 'EPYC-v4' }, vcpus }))),
    mrtd: f.toHex(f.tdxMrtd(firmware).mrtd),
    events: parsed.events.map((e) => ({ ...e, data: f.toHex(e.data) })),
    replay: Object.fromEntries(banks.map((alg) => [alg, f.replayEventLog(parsed.events, { alg, map: 'pcr' })])),
  };
}

describeBrowser('measure path in a browser', () => {
  it('SNP launch digests (EPYC-v4, 1 and 2 vCPUs), TDX MRTD and event-log replay equal the Node results', async () => {
    const run = await runInBrowser(ENTRY, { '/ovmf.fd': readFileSync(shared(OVMF)), '/eventlog.bin': readFileSync(shared(EVENTLOG)) });
    const fns = { snpLaunchDigest, tdxMrtd, parseEventLog, replayEventLog, REPLAY_ALGS, toHex };
    const want = compute(readFileSync(shared(OVMF)), readFileSync(shared(EVENTLOG)), fns);
    expect(run.errors).toEqual([]);
    expect(run.node).toBe(false);
    expect(run.result).toEqual(want);
    expect(want.snp).toHaveLength(2);
    expect(Object.keys(want.replay).length).toBeGreaterThan(0);
  });
});
