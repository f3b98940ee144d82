/**
 * The verify path runs in a browser: the `cvm-measure/verify` entry, bundled for the browser, verifies
 * the real Milan SNP report (VCEK → ASK → ARK, RSA-PSS and ECDSA through WebCrypto) and a TDX quote v5
 * in headless chromium with the same result as in Node.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { readCertificates } from '../src/formats/x509.js';
import { verifyEvidence } from '../src/verify/evidence.js';
import { describeBrowser, runInBrowser } from './helpers/browser.js';
import { shared } from './helpers/shared.js';

const AT = Date.parse('2026-06-01T00:00:00Z') / 1000;
const ENTRY = `
import { verifyEvidence } from './src/entry/verify.ts';
import { readCertificates } from './src/entry/formats.ts';
const get = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
globalThis.run = async () => {
  const [report, vcek, chain, quote] = await Promise.all(['/report.bin', '/vcek.der', '/chain.pem', '/quote.bin'].map(get));
  const certs = [...readCertificates(vcek, 'vcek'), ...readCertificates(chain, 'chain')];
  return [await verifyEvidence(report, { certs, at: ${AT} }), await verifyEvidence(quote, { at: ${AT} })];
};
`;

describeBrowser('verify path in a browser', () => {
  it('the Milan SNP report and a TDX v5 quote verify in chromium as in Node', async () => {
    const files = {
      '/report.bin': readFileSync(shared('fixtures/snp-report/attestation.bin')),
      '/vcek.der': readFileSync(shared('fixtures/snp-report/vcek.testcer')),
      '/chain.pem': readFileSync(shared('fixtures/snp-report/ask_ark_milan.pem')),
      '/quote.bin': readFileSync(shared('fixtures/evidence/tdx-v5-td15-go-tdx-guest/quote.bin')),
    };
    const run = await runInBrowser(ENTRY, files);
    const certs = [...readCertificates(files['/vcek.der'], 'vcek'), ...readCertificates(files['/chain.pem'], 'chain')];
    const want = [
      await verifyEvidence(new Uint8Array(files['/report.bin']), { certs, at: AT }),
      await verifyEvidence(new Uint8Array(files['/quote.bin']), { at: AT }),
    ];
    expect(run.errors).toEqual([]);
    expect(run.node).toBe(false);
    expect(run.result).toEqual(JSON.parse(JSON.stringify(want)));
    expect(want[0]).toMatchObject({ type: 'snp-report', signature: { ok: true }, chain: { ok: true, product: 'Milan' } });
    expect(want[1]).toMatchObject({ ok: true, type: 'tdx-quote', version: 5, signature: { ok: true }, chain: { ok: true } });
  });
});
