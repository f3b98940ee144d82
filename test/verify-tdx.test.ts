/**
 * TDX quote verification against real quotes (../shared/fixtures/evidence/tdx-*, ../shared/fixtures/tdx)
 * and the facts an independent parser computed: values, quote and QE report signatures, PCK chain to the
 * pinned root; a flipped signed byte fails; the debug TD fails the default policy.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { diagnoseMrtd, verifyTdxQuote } from '../src/verify/tdx.js';
import { describeShared, shared, SHARED } from './helpers/shared.js';

interface Facts {
  version: number;
  mrtd: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  report_data: string;
  td_attributes: string;
  td_attributes_decoded: { debug: boolean };
  attestation_key: string;
  quote_signature_valid: boolean;
  qe_report_signature_valid: boolean;
  qe_report_data_binds_attestation_key: boolean;
  root_sha256_fingerprint: string;
  root_equals_trusted_root: boolean;
  signed_len: number;
  pck_chain: { not_before: string; not_after: string }[];
}

const folders = SHARED ? readdirSync(shared('fixtures/evidence')).filter((d) => d.startsWith('tdx-')) : [];
const load = (dir: string) => ({
  facts: (JSON.parse(readFileSync(shared('fixtures/evidence', dir, 'facts.json'), 'utf8')) as { facts: Facts }).facts,
  quote: new Uint8Array(readFileSync(shared('fixtures/evidence', dir, 'quote.bin'))),
});
const at = Date.parse('2026-01-01T00:00:00Z') / 1000;
/** A time inside every certificate's validity window (these chains come from different years). */
const validAt = (f: Facts) => Math.max(...f.pck_chain.map((c) => Date.parse(c.not_before) / 1000)) + 86400;

describeShared('verify: real TDX quotes give the independently computed facts', () => {
  it.each(folders)('%s', async (dir) => {
    const { facts, quote } = load(dir);
    const at = validAt(facts);
    const r = await verifyTdxQuote(quote, { at });
    expect(r.version).toBe(facts.version);
    expect(r.values).toMatchObject({
      mrtd: facts.mrtd,
      rtmr: [facts.rtmr0, facts.rtmr1, facts.rtmr2, facts.rtmr3],
      reportData: facts.report_data,
      tdAttributes: facts.td_attributes,
      debug: facts.td_attributes_decoded.debug,
      attestationKey: facts.attestation_key,
    });
    expect(r.signature?.ok).toBe(facts.quote_signature_valid && facts.qe_report_signature_valid);
    expect(r.chain).toMatchObject({ ok: facts.root_equals_trusted_root, root: facts.root_sha256_fingerprint });
    expect(r.checks.find((c) => c.name === 'QE report data binds the attestation key')!.ok).toBe(facts.qe_report_data_binds_attestation_key);
    const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual(facts.td_attributes_decoded.debug ? ['policy: debug'] : []);
    if (facts.td_attributes_decoded.debug) expect((await verifyTdxQuote(quote, { at, policy: { debug: true } })).ok).toBe(true);
  });

  it.each(folders)('%s: a flipped bit in the signed part fails the quote signature', async (dir) => {
    const { facts, quote } = load(dir);
    const at = validAt(facts);
    for (const offset of [0, 8, 48, 100, 200, facts.signed_len - 1]) {
      const bad = Uint8Array.from(quote);
      bad[offset]! ^= 0x01;
      const r = await verifyTdxQuote(bad, { at, policy: { debug: true } }).catch(() => ({ ok: false, signature: { ok: false } }));
      expect(r.ok, `offset ${offset}`).toBe(false);
      expect(r.signature?.ok, `offset ${offset}`).toBe(false);
    }
  });

  it('a certificate outside its validity window fails the chain', async () => {
    const { quote } = load('tdx-v5-td15-go-tdx-guest');
    const r = await verifyTdxQuote(quote, { at });
    expect(r.chain?.ok).toBe(false);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['PCK is valid at 2026-01-01T00:00:00.000Z']);
  });

  it('a quote with trailing bytes verifies like the trimmed one (parsed by its length fields)', async () => {
    const dir = shared('fixtures/evidence/tdx-v4-spr-go-tdx-guest');
    const at = validAt(load('tdx-v4-spr-go-tdx-guest').facts);
    const full = await verifyTdxQuote(new Uint8Array(readFileSync(`${dir}/quote.bin`)), { at });
    const trimmed = await verifyTdxQuote(new Uint8Array(readFileSync(`${dir}/quote_trimmed.bin`)), { at });
    expect(full).toEqual(trimmed);
    expect(full.ok).toBe(true);
  });

  it("the GCE quote's RTMRs replay from its CCEL log; another log fails naming the RTMRs", async () => {
    const quote = new Uint8Array(readFileSync(shared('fixtures/tdx/cos-113-tdx-quote.dat')));
    const ccel = new Uint8Array(readFileSync(shared('fixtures/tdx/ccel_data.dat')));
    const r = await verifyTdxQuote(quote, { at, ccel });
    expect(r.checks.filter((c) => c.name.includes('CCEL')).map((c) => [c.name, c.ok])).toEqual(
      [0, 1, 2, 3].map((i) => [`RTMR${i} replays from the CCEL log`, true]),
    );
    expect(r.ok).toBe(true);
    const other = await verifyTdxQuote(new Uint8Array(readFileSync(shared('fixtures/evidence/tdx-v4-spr-go-tdx-guest/quote.bin'))), {
      at: validAt(load('tdx-v4-spr-go-tdx-guest').facts),
      ccel,
    });
    expect(other.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      'RTMR0 replays from the CCEL log',
      'RTMR1 replays from the CCEL log',
      'RTMR2 replays from the CCEL log',
    ]);
  });

  it('an MRTD mismatch is diagnosed by page order with the release firmware', async () => {
    const quote = new Uint8Array(readFileSync(shared('fixtures/tdx/cos-113-tdx-quote.dat')));
    const fw = new Uint8Array(readFileSync(shared('fixtures/tdx/gce-clean-example-2MiB.fd')));
    const sha = createHash('sha256').update(fw).digest('hex');
    const entry = {
      parameters: { pageOrder: 'single' },
      mrtd: 'ab'.repeat(48),
      rtmr: {},
      notPredicted: {},
      inputs: { firmware: { sha256: sha, file: 'fw.fd' } },
    };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [], tdx: [entry], pcr: [] };
    const r = await verifyTdxQuote(quote, { at, reference, firmware: fw });
    expect(r.diagnosis).toEqual({
      found: null,
      differences: [],
      searched: 'page orders single, two-pass of the release firmware; none gives dae67181d3d65e07… (a different firmware or TD configuration)',
    });
    expect((await verifyTdxQuote(quote, { at, reference })).diagnosis?.searched).toBe(
      "nothing: give the release's firmware (--firmware) to try the other page order",
    );
    // the two-pass MRTD of that firmware (vectors/tdx.json, derived) against a release built for single
    const twoPass = 'e9f135ce5bcbb476142fc01fe5f4e6e674562a1593d8780f1109526a69c38affce8f941187a21133ed62f65e7017783c';
    expect(await diagnoseMrtd(twoPass, reference, fw)).toEqual({
      found: { pageOrder: 'two-pass' },
      differences: ['page order: two-pass (QEMU 8.x TDX); the release is for single'],
      searched: 'page orders single, two-pass',
    });
  });

  it('the GCE quote matches a reference holding its MRTD and RTMRs, and fails a changed one', async () => {
    const quote = new Uint8Array(readFileSync(shared('fixtures/tdx/cos-113-tdx-quote.dat')));
    const first = await verifyTdxQuote(quote, { at });
    expect(first.signature?.ok && first.chain?.ok).toBe(true);
    const v = first.values as { mrtd: string; rtmr: string[] };
    const entry = { parameters: { vmm: 'gce' }, mrtd: v.mrtd, rtmr: { '1': v.rtmr[1]!, '2': v.rtmr[2]! }, notPredicted: {}, inputs: {} };
    const reference = { schema: 'cvm-measure/reference-values/v1' as const, artifacts: [], snp: [], tdx: [entry], pcr: [] };
    const ok = await verifyTdxQuote(quote, { at, reference });
    expect(ok.match).toEqual({ platform: 'tdx', parameters: { vmm: 'gce' } });
    const changed = { ...reference, tdx: [{ ...entry, rtmr: { ...entry.rtmr, '2': 'ab'.repeat(48) } }] };
    const bad = await verifyTdxQuote(quote, { at, reference: changed });
    expect(bad.ok).toBe(false);
    expect(bad.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['RTMR2 equals the reference']);
  });

  it('of several entries with the MRTD, the RTMRs are checked against the one that matches whole', async () => {
    const quote = new Uint8Array(readFileSync(shared('fixtures/tdx/cos-113-tdx-quote.dat')));
    const v = (await verifyTdxQuote(quote, { at })).values as { mrtd: string; rtmr: string[] };
    const entry = (k: string, rtmr2: string) => ({
      parameters: { kernel: k },
      mrtd: v.mrtd,
      rtmr: { '1': v.rtmr[1]!, '2': rtmr2 },
      notPredicted: {},
      inputs: {},
    });
    const reference = {
      schema: 'cvm-measure/reference-values/v1' as const,
      artifacts: [],
      snp: [],
      tdx: [entry('a', 'ab'.repeat(48)), entry('b', v.rtmr[2]!)],
      pcr: [],
    };
    const r = await verifyTdxQuote(quote, { at, reference });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.match).toEqual({ platform: 'tdx', parameters: { kernel: 'b' } });
  });

  it("only Intel's TD Quoting Enclave, not in debug mode, vouches for the attestation key", async () => {
    const { facts, quote } = load('tdx-v4-spr-go-tdx-guest');
    const signer = Buffer.from('dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5', 'hex');
    const mrsigner = Buffer.from(quote).indexOf(signer); // the QE report's MRSIGNER (offset 128 of the report)
    expect(mrsigner).toBeGreaterThan(0);
    const cases: [number, number, string][] = [
      [mrsigner, 0x01, "QE is Intel's TD Quoting Enclave (MRSIGNER, ISVPRODID)"],
      [mrsigner + 128, 0x01, "QE is Intel's TD Quoting Enclave (MRSIGNER, ISVPRODID)"], // ISVPRODID at 256
      [mrsigner - 80, 0x02, 'QE is not a debug enclave'], // ATTRIBUTES at 48: the DEBUG flag
    ];
    for (const [offset, bit, name] of cases) {
      const bad = Uint8Array.from(quote);
      bad[offset]! ^= bit;
      const r = await verifyTdxQuote(bad, { at: validAt(facts) });
      expect(r.ok).toBe(false);
      expect(r.checks.find((c) => c.name === name)?.ok, name).toBe(false);
    }
  });
});
