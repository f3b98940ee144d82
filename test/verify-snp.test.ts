/**
 * SNP report verification against real reports (../shared/fixtures/evidence, ../shared/vectors/snp-report.json)
 * and the facts an independent parser computed from them: values, signature, chain; any flipped signed
 * byte fails; policy is enforced.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readCertificates } from '../src/formats/x509.js';
import { verifySnpReport } from '../src/verify/snp.js';
import { describeShared, loadVectors, shared, SHARED } from './helpers/shared.js';

interface Facts {
  report_file_format: 'bin' | 'hex';
  version: number;
  policy: string;
  vmpl: number;
  signing_key: 'VCEK' | 'VLEK';
  measurement: string;
  host_data: string;
  report_data: string;
  chip_id: string;
  reported_tcb: Record<string, number | string>;
  report_signature_valid: boolean;
  vcek: { not_after: string };
  chain: { ark: { sha256_fingerprint: string }; ask_signed_by_ark: boolean; vcek_signed_by_ask: boolean };
}

const folders = SHARED ? readdirSync(shared('fixtures/evidence')).filter((d) => d.startsWith('snp-')) : [];
const load = (dir: string) => {
  const f = (n: string) => readFileSync(shared('fixtures/evidence', dir, n));
  const facts = (JSON.parse(f('facts.json').toString()) as { facts: Facts }).facts;
  const names = readdirSync(shared('fixtures/evidence', dir));
  const report = names.includes('report.bin') ? new Uint8Array(f('report.bin')) : Uint8Array.from(Buffer.from(f('report_milan.hex').toString().trim(), 'hex'));
  const certs = names.filter((n) => /\.(pem|der)$/.test(n)).flatMap((n) => readCertificates(f(n), n));
  // the VLEK expired 2025-12-10: verify while it was valid
  const at = Math.min(Date.parse(facts.vcek.not_after) / 1000 - 86400, Math.floor(Date.now() / 1000));
  return { facts, report, certs, at };
};

describeShared('verify: real SNP reports give the independently computed facts', () => {
  it.each(folders)('%s', async (dir) => {
    const { facts, report, certs, at } = load(dir);
    const r = await verifySnpReport(report, { certs, at });
    expect(r.version).toBe(facts.version);
    expect(r.values).toMatchObject({
      measurement: facts.measurement,
      hostData: facts.host_data,
      reportData: facts.report_data,
      chipId: facts.chip_id,
      vmpl: facts.vmpl,
      policy: facts.policy,
      signingKey: facts.signing_key.toLowerCase(),
    });
    const { raw: _raw, ...tcb } = facts.reported_tcb;
    expect(r.values.reportedTcb).toMatchObject({ ...tcb, raw: facts.reported_tcb.raw });
    expect(r.signature).toEqual({ ok: facts.report_signature_valid, signer: facts.signing_key.toLowerCase() });
    expect(r.chain?.ok).toBe(facts.chain.ask_signed_by_ark && facts.chain.vcek_signed_by_ask);
    expect(r.chain?.root).toBe(facts.chain.ark.sha256_fingerprint);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it.each(folders)('%s: a flipped bit anywhere in the signed part fails the signature', async (dir) => {
    const { report, certs, at } = load(dir);
    for (const offset of [0x00, 0x08, 0x30, 0x50, 0x90, 0xbf, 0x180, 0x1a0, 0x29f]) {
      const bad = Uint8Array.from(report);
      bad[offset]! ^= 0x01;
      const r = await verifySnpReport(bad, { certs, at }).catch((e: Error) => ({ ok: false, signature: { ok: false }, error: e.message }));
      expect(r.ok, `offset 0x${offset.toString(16)}`).toBe(false);
      expect(r.signature?.ok, `offset 0x${offset.toString(16)}`).toBe(false);
    }
  });
});

describeShared('verify: the go-sev-guest Milan report (vectors/snp-report.json)', () => {
  const v = loadVectors<{ expected: { version: number; policy: string; measurement: string; report_data: string; host_data: string } }>('snp-report');
  const report = new Uint8Array(readFileSync(shared('fixtures/snp-report/attestation.bin')));
  const certs = ['vcek.testcer', 'ask_ark_milan.pem', 'ask_ark_genoa.pem', 'ask_ark_turin_vcek.pem'].flatMap((n) =>
    readCertificates(readFileSync(shared('fixtures/snp-report', n)), n),
  );
  const at = Date.parse('2026-01-01T00:00:00Z') / 1000;

  it('verifies: signature and VCEK → ASK → ARK; its debug policy fails the default policy and passes when debug is allowed', async () => {
    const r = await verifySnpReport(report, { certs, at });
    expect(r.values).toMatchObject({
      measurement: v.expected.measurement,
      reportData: v.expected.report_data,
      hostData: v.expected.host_data,
      policy: v.expected.policy,
    });
    expect(r.signature?.ok).toBe(true);
    expect(r.chain).toMatchObject({ ok: true, product: 'Milan' });
    expect(r.checks.filter((c) => !c.ok)).toEqual([{ name: 'policy: debug', ok: false, expected: 'forbidden', actual: 'on' }]);
    expect((await verifySnpReport(report, { certs, at, policy: { debug: true } })).ok).toBe(true);
    const vmpl = await verifySnpReport(report, { certs, at, policy: { debug: true, vmpl: [1] } });
    expect(vmpl.checks.filter((c) => !c.ok)).toEqual([{ name: 'policy: VMPL', ok: false, expected: '1', actual: '0' }]);
  });

  it('matches MEASUREMENT against reference values, and names the mismatch', async () => {
    const snp = { parameters: { vmm: 'qemu' }, launchDigests: { '4': v.expected.measurement }, inputs: {} };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [snp], tdx: [], pcr: [] };
    const r = await verifySnpReport(report, { certs, at, policy: { debug: true }, reference });
    expect(r.ok).toBe(true);
    expect(r.match).toEqual({ platform: 'snp', parameters: { vmm: 'qemu' }, vcpus: 4 });
    const other = { ...reference, snp: [{ ...snp, launchDigests: { '4': 'ab'.repeat(48) } }] };
    const bad = await verifySnpReport(report, { certs, at, policy: { debug: true }, reference: other });
    expect(bad.ok).toBe(false);
    expect(bad.checks.find((c) => c.name === 'MEASUREMENT is a reference value')).toMatchObject({ ok: false, actual: v.expected.measurement });
  });

  it("of entries with the same launch digest (POLICY is not part of it), the one with the report's POLICY matches", async () => {
    const snp = (policy: string) => ({ parameters: { vmm: 'qemu', policy }, launchDigests: { '4': v.expected.measurement }, inputs: {} });
    const reportPolicy = (await verifySnpReport(report, { certs, at, policy: { debug: true } })).values as { policy: string };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [snp('0x1'), snp(reportPolicy.policy)], tdx: [], pcr: [] };
    const r = await verifySnpReport(report, { certs, at, policy: { debug: true }, reference });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.match?.parameters).toEqual({ vmm: 'qemu', policy: reportPolicy.policy });
  });

  it('on a mismatch, diagnoses with the release firmware only (checked by its digest), and says what it searched', async () => {
    const ovmf = new Uint8Array(readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd')));
    const sha = createHash('sha256').update(ovmf).digest('hex');
    const entry = {
      parameters: { vmm: 'qemu', 'vcpu.type': 'EPYC-v4', guestFeatures: '0x1' },
      launchDigests: { '4': 'ab'.repeat(48) },
      inputs: { firmware: { sha256: sha, file: 'OVMF.fd' } },
    };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [entry], tdx: [], pcr: [] };
    const none = await verifySnpReport(report, { certs, at, policy: { debug: true }, reference });
    expect(none.diagnosis).toEqual({
      found: null,
      differences: [],
      searched: `nothing: give the release's firmware (OVMF.fd sha256 ${sha.slice(0, 16)}…) to search which knob differs`,
    });
    const wrong = await verifySnpReport(report, { certs, at, policy: { debug: true }, reference, firmware: ovmf.subarray(1) });
    expect(wrong.diagnosis?.searched).toMatch(/^nothing: the firmware given \(sha256 [0-9a-f]{16}…\) is not the release's$/);
    const searched = await verifySnpReport(report, { certs, at, policy: { debug: true }, reference, firmware: ovmf });
    expect(searched.diagnosis?.found).toBeNull();
    expect(searched.diagnosis?.searched).toMatch(/knob combinations .* × vCPUs 1–512; none gives b07af9620f3b839b/);
  });

  it('fails closed without the chain, and with a wrong root', async () => {
    const vcekOnly = await verifySnpReport(report, { certs: certs.slice(0, 1), at, policy: { debug: true } });
    expect(vcekOnly.ok).toBe(false);
    expect(vcekOnly.signature?.ok).toBe(false);
    const genoaOnly = await verifySnpReport(report, {
      certs: [certs[0]!, ...readCertificates(readFileSync(shared('fixtures/snp-report/ask_ark_genoa.pem')), 'genoa')],
      at,
      policy: { debug: true },
    });
    expect(genoaOnly.ok).toBe(false);
  });
});

describe('verify: malformed reports are one-line format errors', () => {
  it('rejects a short report and an unknown version', async () => {
    await expect(verifySnpReport(new Uint8Array(100), { certs: [] })).rejects.toThrow('SNP attestation report: expected 1184 bytes, got 100');
    const r = new Uint8Array(1184);
    r[0] = 9;
    await expect(verifySnpReport(r, { certs: [] })).rejects.toThrow('unsupported report version 9');
  });
});
