/**
 * `verify --kds` against a loopback server emulating AMD's KDS endpoints with the real certificates of
 * ../shared/fixtures/evidence (never the real service). The server answers only the exact paths the
 * KDS interface specification gives, built here from each report's facts.json (chip id, TCB), so a
 * wrong product, hwid length or TCB parameter is a 404. Checked: the downloaded chain verifies the
 * report, the cache (by chip id + TCB) answers the second time, VCEK requests are spaced, and slow,
 * oversized or unpinned answers are refused with one line and nothing cached.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readCertificates } from '../src/formats/x509.js';
import { verifyEvidence } from '../src/verify/evidence.js';
import { kdsCertificates } from '../src/verify/kds.js';
import { cli } from './helpers/cli.js';
import { describeShared, shared } from './helpers/shared.js';

type Facts = { reported_tcb: { fmc?: number; bootloader: number; tee: number; snp: number; microcode: number }; chip_id: string };

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));

describeShared('verify --kds against a loopback KDS', () => {
  const E = (d: string, f: string) => shared('fixtures/evidence', d, f);
  const report = (d: string) => new Uint8Array(readFileSync(E(d, 'report.bin')));
  const facts = (d: string) => JSON.parse(readFileSync(E(d, 'facts.json'), 'utf8')).facts as Facts;
  const pem = (d: string) => readFileSync(E(d, 'ask_ark_chain.pem'));
  // the endpoint of a VCEK as the KDS interface specification spells it: Turin has an 8-byte hwid and an fmcSPL
  const vcekPath = (product: string, d: string) => {
    const f = facts(d);
    const t = f.reported_tcb;
    const two = (n: number) => String(n).padStart(2, '0');
    const hwid = product === 'Turin' ? f.chip_id.slice(0, 16) : f.chip_id;
    return `/vcek/v1/${product}/${hwid}?${t.fmc === undefined ? '' : `fmcSPL=${two(t.fmc)}&`}blSPL=${two(t.bootloader)}&teeSPL=${two(t.tee)}&snpSPL=${two(t.snp)}&ucodeSPL=${two(t.microcode)}`;
  };
  const routes = new Map<string, Uint8Array | 'hang'>();
  const hits: { path: string; at: number }[] = [];
  let server: Server;
  let base = '';
  const at = Date.parse('2026-06-01T00:00:00Z') / 1000;

  beforeAll(async () => {
    routes.set('/vcek/v1/Milan/cert_chain', pem('snp-milan-v2-virtee'));
    routes.set(vcekPath('Milan', 'snp-milan-v2-virtee'), readFileSync(E('snp-milan-v2-virtee', 'vcek.der')));
    routes.set('/vcek/v1/Genoa/cert_chain', pem('snp-genoa-v3-msft'));
    routes.set(vcekPath('Genoa', 'snp-genoa-v3-msft'), readCertificates(readFileSync(E('snp-genoa-v3-msft', 'vcek.pem')), 'vcek')[0]!.der);
    routes.set('/vcek/v1/Turin/cert_chain', pem('snp-turin-v5-msft'));
    routes.set(vcekPath('Turin', 'snp-turin-v5-msft'), readCertificates(readFileSync(E('snp-turin-v5-msft', 'vcek.pem')), 'vcek')[0]!.der);
    routes.set('/vlek/v1/Milan/cert_chain', pem('snp-milan-v3-vlek-trustee'));
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      hits.push({ path: req.url!, at: Date.now() });
      const body = routes.get(req.url!);
      if (body === 'hang') return; // never answers
      res.writeHead(body ? 200 : 404).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('downloads the Milan chain and VCEK of a v2 report (product given), verifies with them, then answers from the cache', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'cvm-kds-'));
    const o = { baseUrl: base, cacheDir, vcekIntervalMs: 0, product: 'Milan' as const };
    const r = report('snp-milan-v2-virtee');
    await expect(kdsCertificates(r, [], { ...o, product: undefined })).rejects.toThrow('--kds: a v2 report does not name its CPU');
    const before = hits.length;
    const certs = await kdsCertificates(r, [], o);
    expect(hits.slice(before).map((h) => h.path)).toEqual(['/vcek/v1/Milan/cert_chain', vcekPath('Milan', 'snp-milan-v2-virtee')]);
    const v = await verifyEvidence(r, { certs, at });
    expect([v.signature, v.chain?.ok, v.chain?.product]).toEqual([{ ok: true, signer: 'vcek' }, true, 'Milan']);
    // cached by chip id and TCB: no second request
    const again = await kdsCertificates(r, [], o);
    expect(hits.length).toBe(before + 2);
    expect(again.map((c) => c.der)).toEqual(certs.map((c) => c.der));
    expect(
      files(cacheDir)
        .map((f) => f.slice(cacheDir.length))
        .sort(),
    ).toEqual(['/last-vcek-request', '/vcek/Milan/cert_chain.pem', `/vcek/Milan/${facts('snp-milan-v2-virtee').chip_id}/7308000000000003.der`]);
  });

  it('Genoa and Turin (8-byte hwid, fmcSPL) from the report alone; the second VCEK request waits out the interval', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'cvm-kds-'));
    const o = { baseUrl: base, cacheDir, vcekIntervalMs: 1500 };
    for (const [d, product] of [
      ['snp-genoa-v3-msft', 'Genoa'],
      ['snp-turin-v5-msft', 'Turin'],
    ] as const) {
      const certs = await kdsCertificates(report(d), [], o);
      const v = await verifyEvidence(report(d), { certs, at });
      expect([v.ok, v.chain?.product], d).toEqual([true, product]);
    }
    const vceks = hits.filter((h) => h.path.includes('SPL=')).slice(-2);
    expect(vceks.map((h) => h.path)).toEqual([vcekPath('Genoa', 'snp-genoa-v3-msft'), vcekPath('Turin', 'snp-turin-v5-msft')]);
    expect(vceks[1]!.at - vceks[0]!.at).toBeGreaterThanOrEqual(1400);
  });

  it('a VLEK-signed report: only the VLEK chain is downloaded (the VLEK comes with the report)', async () => {
    const d = 'snp-milan-v3-vlek-trustee';
    const vlek = readCertificates(readFileSync(E(d, 'vlek.der')), 'vlek');
    const before = hits.length;
    const certs = await kdsCertificates(report(d), vlek, { baseUrl: base, cacheDir: mkdtempSync(join(tmpdir(), 'cvm-kds-')) });
    expect(hits.slice(before).map((h) => h.path)).toEqual(['/vlek/v1/Milan/cert_chain']);
    const v = await verifyEvidence(report(d), { certs: [...vlek, ...certs], at: Date.parse('2025-06-01T00:00:00Z') / 1000, policy: { snp: { vmpl: [1] } } });
    expect([v.ok, v.signature?.signer]).toEqual([true, 'vlek']);
  });

  it('refuses a hanging, oversized or unpinned answer in one line, and caches nothing', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'cvm-kds-'));
    const r = report('snp-genoa-v3-msft');
    const o = { baseUrl: base, cacheDir, vcekIntervalMs: 0 };
    routes.set('/vcek/v1/Genoa/cert_chain', 'hang');
    await expect(kdsCertificates(r, [], { ...o, timeoutMs: 300 })).rejects.toThrow(
      /^KDS certificate chain: .*(no answer within 300 ms|not complete within 300 ms)/,
    );
    routes.set('/vcek/v1/Genoa/cert_chain', Buffer.alloc(100 << 10, 0x41));
    await expect(kdsCertificates(r, [], o)).rejects.toThrow(/more than the limit of 65536/);
    routes.set('/vcek/v1/Genoa/cert_chain', pem('snp-milan-v2-virtee'));
    await expect(kdsCertificates(r, [], o)).rejects.toThrow(/holds no ARK pinned for Genoa$/);
    routes.set('/vcek/v1/Genoa/cert_chain', pem('snp-genoa-v3-msft'));
    expect(files(cacheDir)).toEqual([]);
  });

  it('the CLI: verify --kds with a cold cache, exit 0; --kds on a TDX quote is a usage error', async () => {
    const env = { CVM_KDS_TEST_URL: base, CVM_CACHE: mkdtempSync(join(tmpdir(), 'cvm-kds-')) };
    const r = await cli(['verify', E('snp-genoa-v3-msft', 'report.bin'), '--kds', '--at', '2026-06-01', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, chain: { ok: true, product: 'Genoa' } });
    expect(r.stderr).toContain('cvm-measure: kds: GET ');
    const tdx = await cli(['verify', E('tdx-v4-spr-go-tdx-guest', 'quote.bin'), '--kds'], { env });
    expect([tdx.code, tdx.stderr.trim()]).toEqual([2, "cvm-measure: error: --kds: AMD's KDS serves SNP certificates; this is a tdx-quote"]);
  });
});
