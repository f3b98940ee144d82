/**
 * Azure HCL reports. No real HCL blob is in ../shared, so the real Genoa report (snp-genoa-v3-msft,
 * an Azure guest) is wrapped here per Microsoft's published layout (header, 1184-byte report area,
 * runtime data with JSON claims): its signature and chain verify as facts.json says, and the binding
 * of REPORT_DATA to the claims is checked on its own (the real report's REPORT_DATA is zero, so it
 * fails; a report carrying the claims' hash passes it and fails its signature instead).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHclReport } from '../src/formats/hcl-report.js';
import { detectEvidence, verifyEvidence } from '../src/verify/evidence.js';
import { loadCertificates } from '../src/verify/load.js';
import { cli } from './helpers/cli.js';
import { HCL_CLAIMS as CLAIMS, wrapHcl as wrap } from './helpers/hcl.js';
import { describeShared, shared } from './helpers/shared.js';

const sha = (alg: string, s: string) => createHash(alg).update(s).digest();

describeShared('verify: Azure HCL report around the real Genoa SNP report', () => {
  const dir = 'fixtures/evidence/snp-genoa-v3-msft';
  const report = new Uint8Array(readFileSync(shared(dir, 'report.bin')));
  const certs = loadCertificates([shared(dir, 'ask_ark_chain.pem'), shared(dir, 'vcek.pem')]);
  const facts = JSON.parse(readFileSync(shared(dir, 'facts.json'), 'utf8')).facts as { measurement: string; report_data: string; host_data: string };
  const at = Date.parse('2026-06-01T00:00:00Z') / 1000;
  const failed = (r: { checks: { name: string; ok: boolean }[] }) => r.checks.filter((c) => !c.ok).map((c) => c.name);

  it('is detected from its bytes; the inner report verifies as facts.json says; the claims are exposed; the zero REPORT_DATA does not bind them', async () => {
    const hcl = new Uint8Array(wrap(report, { pad: 2600 - 1236 - CLAIMS.length }));
    expect(detectEvidence(hcl)).toBe('hcl-report');
    const r = await verifyEvidence(hcl, { certs, at });
    expect(r).toMatchObject({ type: 'hcl-report', version: 2, signature: { ok: true, signer: 'vcek' }, chain: { ok: true, product: 'Genoa' } });
    expect(r.values).toMatchObject({ measurement: facts.measurement, hostData: facts.host_data, reportData: facts.report_data });
    expect((r.values.hcl as { runtimeClaims: unknown }).runtimeClaims).toEqual(JSON.parse(CLAIMS));
    expect(failed(r)).toEqual(['REPORT_DATA is the SHA-256 of the runtime claims']);
    expect(r.ok).toBe(false);
  });

  it('REPORT_DATA holding the hash of the claims binds them (SHA-256, -384, -512); the changed report then fails only its signature', async () => {
    for (const [type, alg] of [
      [1, 'sha256'],
      [2, 'sha384'],
      [3, 'sha512'],
    ] as const) {
      const bound = Uint8Array.from(report);
      bound.fill(0, 0x50, 0x90);
      bound.set(sha(alg, CLAIMS), 0x50);
      const r = await verifyEvidence(new Uint8Array(wrap(bound, { hashType: type })), { certs, at });
      const b = r.checks.find((c) => c.name.startsWith('REPORT_DATA is the'))!;
      expect([b.ok, b.expected]).toEqual([true, sha(alg, CLAIMS).toString('hex')]);
      expect(failed(r)).toEqual(['report signature verifies with the VCEK']);
    }
  });

  it('the CLI detects it and prints one JSON object with the claims', async () => {
    const tmp = join(mkdtempSync(join(tmpdir(), 'cvm-hcl-')), 'hcl.bin');
    writeFileSync(tmp, wrap(report));
    const r = await cli(['verify', tmp, '--certs', shared(dir, 'ask_ark_chain.pem'), '--certs', shared(dir, 'vcek.pem'), '--at', '2026-06-01', '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect([j.type, j.values.hcl.reportType, j.values.hcl.runtimeClaims['vm-configuration'].vmUniqueId]).toEqual([
      'hcl-report',
      'snp',
      '68dc0ac0-2ed9-4b2a-a03e-4953e416d939',
    ]);
  });
});

describe('HCL report parser', () => {
  const payload = new Uint8Array(1184);
  it('refuses each malformed field with one line', () => {
    const cases: [Buffer, string][] = [
      [wrap(payload).subarray(0, 1230), 'too short'],
      [Buffer.concat([Buffer.from('HCLB'), wrap(payload).subarray(4)]), 'signature "HCLB" is not "HCLA"'],
      [wrap(payload, { version: 3 }), 'header version 3 is not 1 or 2'],
      [wrap(payload, { reportType: 3 }), 'report type 3 is not 2 (SEV-SNP) or 4 (TDX)'],
      [wrap(payload, { hashType: 0 }), 'hash type 0 is not 1, 2 or 3'],
      [wrap(payload, { reportSize: 1000 }), 'report size 1000 is neither'],
      [wrap(payload, { claims: '[1]' }), 'runtime claims are not a JSON object'],
      [wrap(payload, { claims: '{"a":' }), 'runtime claims are not UTF-8 JSON'],
      [wrap(payload).subarray(0, 1236 + 10), 'run past the 1246-byte report'],
    ];
    for (const [b, msg] of cases) expect(() => parseHclReport(new Uint8Array(b)), msg).toThrow(msg);
    // the size up to the claims' end is accepted as the report size (what reports in the field carry)
    expect(parseHclReport(new Uint8Array(wrap(payload, { reportSize: 1236 + CLAIMS.length }))).reportType).toBe('snp');
  });

  it('a TDX TDREPORT inside: values and binding shown, authenticity a failed check', async () => {
    const td = new Uint8Array(1024);
    td[0] = 0x81;
    td.set(sha('sha256', CLAIMS), 128);
    td.fill(0xab, 528, 576); // MRTD
    const r = await verifyEvidence(new Uint8Array(wrap(td, { reportType: 4 })));
    expect(r.values).toMatchObject({ mrTd: 'ab'.repeat(48), hcl: { reportType: 'tdx' } });
    expect(r.checks.map((c) => [c.name, c.ok])).toEqual([
      ['the TDREPORT is authenticated', false],
      ['REPORT_DATA is the SHA-256 of the runtime claims', true],
    ]);
  });
});
