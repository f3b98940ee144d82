/**
 * `cvm-measure verify` end to end: signed reference values from `manifest create` → verify real
 * evidence against them; every failure is exit 1 with one line (or one JSON object with --json); the
 * reference values are used only after their signature verifies with a trusted key.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, expect, it } from 'vitest';
import { createManifest } from '../src/manifest/create.js';
import { generateKey, parsePrivateKey } from '../src/sign/keys.js';
import { localSigner } from '../src/sign/signer.js';
import { cli, errorLine } from './helpers/cli.js';
import { changedKernelPrediction, snpOutput } from './helpers/measurements.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas/verify-result.schema.json'), 'utf8')));

describeShared('verify CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-verify-'));
  const report = shared('fixtures/snp-report/attestation.bin');
  const certs = ['--certs', shared('fixtures/snp-report/vcek.testcer'), '--certs', shared('fixtures/snp-report/ask_ark_milan.pem')];
  const at = ['--at', '2026-01-01'];
  const measurement = 'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01';
  const pub = join(dir, 'release.pub.pem');
  const other = join(dir, 'other.pub.pem');

  beforeAll(async () => {
    const key = generateKey('ecdsa-p256');
    writeFileSync(pub, key.publicPem);
    writeFileSync(other, generateKey('ecdsa-p256').publicPem);
    // CONSTRUCTED HERE: a measure snp output holding the Milan report's MEASUREMENT at 4 vCPUs (its firmware is not public)
    const snp = snpOutput({ '2': 'ab'.repeat(48), '4': measurement }, { vcpu: { type: 'EPYC-Milan', signature: '0xa00f11' }, policy: '0xb0000' });
    await createManifest({
      measurements: snp,
      signer: localSigner(parsePrivateKey(key.privatePem, 'k')),
      outDir: join(dir, 'm'),
      formats: ['intoto', 'json'],
      notBefore: 1767225600,
    });
    writeFileSync(join(dir, 'allow-debug.yaml'), 'snp:\n  debug: true\n  vmpl: [0]\n');
    writeFileSync(join(dir, 'bad-policy.yaml'), 'snp:\n  debg: true\n');
  });

  it('verifies the Milan report against signed reference values and names the match', async () => {
    const r = await cli([
      'verify',
      report,
      ...certs,
      ...at,
      '--reference',
      join(dir, 'm'),
      '--trust',
      pub,
      '--policy',
      join(dir, 'allow-debug.yaml'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j).toMatchObject({
      ok: true,
      type: 'snp-report',
      version: 2,
      signature: { ok: true, signer: 'vcek' },
      chain: { ok: true, product: 'Milan' },
      match: { platform: 'snp', vcpus: 4, parameters: { vmm: 'qemu', 'vcpu.type': 'EPYC-Milan', policy: '0xb0000' } },
    });
    const text = await cli(['verify', report, ...certs, ...at, '--reference', join(dir, 'm'), '--trust', pub, '--policy', join(dir, 'allow-debug.yaml')]);
    expect(text.stdout).toContain('match: snp ');
    expect(text.stdout).toContain('vcpus=4');
  });

  it('the default policy refuses its debug guest: exit 1, one line, or one JSON object', async () => {
    const r = await cli(['verify', report, ...certs, ...at]);
    expect([r.code, errorLine(r)]).toEqual([1, `cvm-measure: error: ${report}: 1 of 16 checks failed: policy: debug`]);
    const j = await cli(['verify', report, ...certs, ...at, '--json']);
    expect(j.code).toBe(1);
    expect(errorLine(j)).toBe(errorLine(r));
    expect(validate(JSON.parse(j.stdout)), JSON.stringify(validate.errors)).toBe(true);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: false,
      error: { code: 'VerificationError', message: `${report}: 1 of 16 checks failed: policy: debug` },
      checks: expect.arrayContaining([{ name: 'policy: debug', ok: false, expected: 'forbidden', actual: 'on' }]),
    });
  });

  it('refuses reference values signed by another key, tampered, or unsigned', async () => {
    const wrong = await cli(['verify', report, ...certs, ...at, '--reference', join(dir, 'm'), '--trust', other]);
    expect(wrong.code).toBe(1);
    expect(errorLine(wrong)).toBe(`cvm-measure: error: ${join(dir, 'm', 'reference-values.intoto.json')}: DSSE: 0 of 1 trusted key(s) verified, threshold 1`);
    const env = JSON.parse(readFileSync(join(dir, 'm', 'reference-values.intoto.json'), 'utf8'));
    const payload = JSON.parse(Buffer.from(env.payload, 'base64').toString());
    payload.predicate.snp[0].launchDigests['4'] = 'ee'.repeat(48);
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify({ ...env, payload: Buffer.from(JSON.stringify(payload)).toString('base64') }));
    const tampered = await cli(['verify', report, ...certs, ...at, '--reference', join(dir, 'tampered.json'), '--trust', pub]);
    expect(tampered.code).toBe(1);
    expect(errorLine(tampered)).toMatch(/tampered\.json: DSSE: signatures\[0\] names trusted key [0-9a-f]{16}… but does not verify with it$/);
    const unsigned = await cli(['verify', report, ...certs, ...at, '--reference', join(dir, 'm', 'reference-values.json'), '--trust', pub]);
    expect(errorLine(unsigned)).toContain('reference-values.json is not signed');
    const noTrust = await cli(['verify', report, '--reference', join(dir, 'm')]);
    expect([noTrust.code, errorLine(noTrust)]).toEqual([
      2,
      'cvm-measure: error: --reference needs --trust: reference values are used only after their signature verifies',
    ]);
  });

  it('verifies the GCE TDX quote against stated values signed with manifest create --values, and fails a changed RTMR', async () => {
    const quote = shared('fixtures/tdx/cos-113-tdx-quote.dat');
    const values = (await cli(['verify', quote, '--json'])).stdout;
    const v = JSON.parse(values).values as { mrtd: string; rtmr: string[] };
    const stated = (rtmr2: string) =>
      `schema: cvm-measure/stated-values/v1\nvalues:\n  - platform: tdx\n    origin: stated\n    source: GCE TDX quote of cos-113 (shared fixtures)\n    parameters: { vmm: gce }\n    mrtd: ${v.mrtd}\n    rtmr: { "1": ${v.rtmr[1]}, "2": ${rtmr2} }\n`;
    writeFileSync(join(dir, 'gce.yaml'), stated(v.rtmr[2]!));
    writeFileSync(join(dir, 'gce-changed.yaml'), stated('ab'.repeat(48)));
    const key = join(dir, 'k.pem');
    expect((await cli(['keys', 'generate', '--alg', 'ecdsa-p384', '--out', key])).code).toBe(0);
    for (const [name, file] of [
      ['gce', 'gce.yaml'],
      ['changed', 'gce-changed.yaml'],
    ]) {
      const c = await cli(['manifest', 'create', '--values', join(dir, file!), '--key', key, '--out', join(dir, name!), '--formats', 'intoto,corim,json']);
      expect(c.code, c.stderr).toBe(0);
    }
    const ok = await cli(['verify', quote, '--reference', join(dir, 'gce'), '--trust', join(dir, 'k.pub.pem'), '--json']);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout).match).toEqual({
      platform: 'tdx',
      parameters: { vmm: 'gce' },
      origin: 'stated',
      source: 'GCE TDX quote of cos-113 (shared fixtures)',
    });
    const bad = await cli(['verify', quote, '--reference', join(dir, 'changed'), '--trust', join(dir, 'k.pub.pem')]);
    expect([bad.code, errorLine(bad)]).toEqual([1, `cvm-measure: error: ${quote}: 1 of 16 checks failed: RTMR2 equals the reference`]);
    writeFileSync(
      join(dir, 'bad.yaml'),
      'schema: cvm-measure/stated-values/v1\nvalues:\n  - platform: tdx\n    origin: predicted\n    source: x\n    mrtd: 00\n',
    );
    const refused = await cli(['manifest', 'create', '--values', join(dir, 'bad.yaml'), '--key', key, '--out', join(dir, 'x')]);
    expect(refused.code).toBe(1);
    expect(errorLine(refused)).toContain(`${join(dir, 'bad.yaml')}.values.0`);
  });

  it('a TPM log against a release built with another kernel: --expected names the kernel event (text and --json diagnosis)', async () => {
    const tpm = 'fixtures/evidence/tpm-ubuntu2404-sevsnp-gce-go-tpm-tools';
    const log = shared(tpm, 'eventlog.bin');
    const prediction = changedKernelPrediction(new Uint8Array(readFileSync(log)));
    writeFileSync(join(dir, 'prediction.json'), JSON.stringify(prediction));
    const values = { platform: 'pcr', origin: 'stated', source: 'a release built with another kernel', banks: { sha256: prediction.pcrs.sha256 } };
    writeFileSync(join(dir, 'pcr-values.json'), JSON.stringify({ schema: 'cvm-measure/stated-values/v1', values: [values] }));
    const key = join(dir, 'pcr.pem');
    expect((await cli(['keys', 'generate', '--alg', 'ecdsa-p256', '--out', key])).code).toBe(0);
    const m = await cli(['manifest', 'create', '--values', join(dir, 'pcr-values.json'), '--key', key, '--out', join(dir, 'pcr-m'), '--formats', 'intoto']);
    expect(m.code, m.stderr).toBe(0);
    const args = ['verify', log, '--pcrs', shared(tpm, 'pcrs.json'), '--reference', join(dir, 'pcr-m'), '--trust', join(dir, 'pcr.pub.pem')];
    const j = await cli([...args, '--expected', join(dir, 'prediction.json'), '--json']);
    expect(j.code).toBe(1);
    const out = JSON.parse(j.stdout);
    expect(validate(out), JSON.stringify(validate.errors)).toBe(true);
    expect(out.diagnosis.found).toEqual({ pcr: 9, logEvent: 104, component: 'kernel', type: 'EV_IPL', actual: 'EV_IPL' });
    const text = await cli([...args, '--expected', join(dir, 'prediction.json')]);
    expect(text.stdout).toMatch(/^diagnosis: PCR9 event \d+ \(log event #104\): the release predicts kernel .*"\/vmlinuz-6\.8\.0-1010-gcp"$/m);
    const without = await cli(args);
    expect(without.stdout).toMatch(/^diagnosis: searched nothing: give the release's prediction \(--expected/m);
  });

  it('names a bad policy field, bad evidence and a TPM log without PCR values in one line', async () => {
    const pol = await cli(['verify', report, ...certs, '--policy', join(dir, 'bad-policy.yaml')]);
    expect([pol.code, errorLine(pol)]).toEqual([
      1,
      `cvm-measure: error: ${join(dir, 'bad-policy.yaml')}: policy.snp: must NOT have additional properties "debg"`,
    ]);
    const short = join(dir, 'short.bin');
    writeFileSync(short, Buffer.alloc(100));
    const bad = await cli(['verify', short, '--type', 'snp-report']);
    expect([bad.code, errorLine(bad)]).toEqual([1, 'cvm-measure: error: SNP attestation report: expected 1184 bytes, got 100']);
    const tpm = await cli(['verify', shared('fixtures/evidence/tpm-ubuntu2404-sevsnp-gce-go-tpm-tools/eventlog.bin')]);
    expect([tpm.code, errorLine(tpm)]).toEqual([2, 'cvm-measure: error: a TPM event log is verified against the PCR values it must replay to: give --pcrs']);
  });
});
