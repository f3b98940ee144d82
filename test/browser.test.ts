/**
 * The measure path runs in a browser: esbuild bundles the pure functions for the platform 'browser'
 * (a node: import anywhere they reach fails the bundle: nothing is marked external), headless Debian
 * chromium (playwright-core, never a downloaded browser) runs the bundle on fixture bytes served from
 * 127.0.0.1, and the SNP launch digests, the TDX MRTD and the event-log parse + replay must equal what
 * this Node process computes with the same functions (native node:crypto here, @noble/hashes there).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEventLog, replayEventLog } from '../src/formats/tcg-eventlog.js';
import { snpLaunchDigest } from '../src/measure/snp/launch.js';
import { tdxMrtd } from '../src/measure/tdx/mrtd.js';
import { REPLAY_ALGS, type HashAlg } from '../src/tcg/index.js';
import { toHex } from '../src/util/bytes.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

const CHROMIUM = '/usr/bin/chromium';
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
globalThis.measure = async () => {
  const [firmware, log] = await Promise.all([get('/ovmf.fd'), get('/eventlog.bin')]);
  return { ...(${compute.toString()})(firmware, log, { snpLaunchDigest, tdxMrtd, parseEventLog, replayEventLog, REPLAY_ALGS, toHex }), node: typeof process !== 'undefined' || typeof Buffer !== 'undefined' };
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

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) process.stderr.write(`\n*** SKIPPED "measure path in a browser": ${CHROMIUM} missing (apt-get install chromium, or: npx cvm-measure doctor --fix --for test) ***\n`);
const suite = haveChromium ? describeShared : (name: string, fn: () => void) => describe.skip(`${name} [SKIPPED: ${CHROMIUM} missing]`, fn);

suite('measure path in a browser', () => {
  let dir: string;
  let server: Server | undefined;
  let browser: Browser | undefined;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cvm-browser-'));
    // no `external`: a node: builtin reached from the entry is an esbuild error, and the bundle throws
    await build({ stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'ts', sourcefile: 'browser-entry.ts' }, bundle: true, platform: 'browser', format: 'esm', target: 'es2022', outfile: join(dir, 'bundle.js'), logLevel: 'silent' });
    const files: Record<string, [string, Buffer]> = {
      '/': ['text/html', Buffer.from('<!doctype html><meta charset="utf-8"><script type="module" src="/bundle.js"></script>')],
      '/bundle.js': ['text/javascript', readFileSync(join(dir, 'bundle.js'))],
      '/ovmf.fd': ['application/octet-stream', readFileSync(shared(OVMF))],
      '/eventlog.bin': ['application/octet-stream', readFileSync(shared(EVENTLOG))],
    };
    const srv = createServer((req, res) => {
      const f = files[req.url ?? ''];
      res.writeHead(f ? 200 : 404, { 'content-type': f ? f[0] : 'text/plain' });
      res.end(f ? f[1] : 'not found');
    });
    server = srv;
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  afterAll(async () => {
    await browser?.close();
    const srv = server;
    if (srv) await new Promise((ok) => srv.close(ok));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('SNP launch digests (EPYC-v4, 1 and 2 vCPUs), TDX MRTD and event-log replay equal the Node results', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => typeof (globalThis as { measure?: unknown }).measure === 'function');
    const got = await page.evaluate(() => (globalThis as unknown as { measure: () => Promise<unknown> }).measure());
    const fns = { snpLaunchDigest, tdxMrtd, parseEventLog, replayEventLog, REPLAY_ALGS, toHex };
    const want = compute(readFileSync(shared(OVMF)), readFileSync(shared(EVENTLOG)), fns);
    expect(errors).toEqual([]);
    expect(got).toEqual({ ...want, node: false });
    expect(want.snp).toHaveLength(2);
    expect(Object.keys(want.replay).length).toBeGreaterThan(0);
  });
});
