/**
 * Signed reference-value manifests end to end: real `measure snp|tdx|pcr --json` outputs → `manifest
 * create` for each key algorithm → checked by the independent validators in shared/tools/validate
 * (Python cbor2/cryptography/securesystemslib, Ruby cose, openssl) and by `manifest verify`.
 */
import { execFile } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { CvmError } from '../src/errors.js';
import { encodeCbor, decodeCbor, Tagged, type CborValue } from '../src/formats/cbor.js';
import { rawToDer } from '../src/sign/ecdsa.js';
import { createManifest } from '../src/manifest/create.js';
import { TAG_PREFIX } from '../src/manifest/intoto.js';
import { corimFor, signCorim } from '../src/manifest/corim.js';
import { generateKey, parsePrivateKey, type KeyAlg } from '../src/sign/keys.js';
import { importMeasurements } from '../src/manifest/import.js';
import { referenceValuesFrom } from '../src/manifest/model.js';
import { snpMeasurement } from '../src/measure/snp/report.js';
import { localSigner, type Signer } from '../src/sign/signer.js';
import { verifyManifest } from '../src/manifest/verify.js';
import { signSign1 } from '../src/sign/cose.js';
import { cli, errorLine } from './helpers/cli.js';
import { snpOutput } from './helpers/measurements.js';
import { describeShared, ROOT, shared } from './helpers/shared.js';

const run = promisify(execFile);
const PY = '/usr/bin/python3';
const ALGS: KeyAlg[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519'];
const schema = (name: string) => new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8')));

/** Runs a validator; returns exit code and output. */
async function tool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(cmd, args, { encoding: 'utf8' });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : 1, out: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

describeShared('manifest create / verify on real measurements', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-manifest-'));
  const fx = (...p: string[]) => shared('fixtures', ...p);
  const OVMF = fx('debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  const KERNEL = fx('debian/debian-bookworm-vmlinuz-6.1.0-56-amd64');
  let snp: { digests: Record<string, string> };
  let tdx: { mrtd: string; rtmr: Record<string, string> };
  let pcr: { pcrs: { sha256: Record<string, string>; sha384: Record<string, string> } };
  const key = (alg: KeyAlg) => join(dir, `${alg}.pem`);
  const pub = (alg: KeyAlg) => join(dir, `${alg}.pub.pem`);
  const out = (alg: KeyAlg) => join(dir, `out-${alg}`);
  const env = { SOURCE_DATE_EPOCH: '1767225600' }; // 2026-01-01

  beforeAll(async () => {
    const measure = async (args: string[]) => {
      const r = await cli(['measure', ...args, '--json']);
      if (r.code !== 0) throw new Error(`measure ${args[0]} failed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    snp = await measure(['snp', '--firmware', OVMF, '--vcpus', '1-4', '--vcpu-type', 'EPYC-v4']);
    tdx = await measure(['tdx', '--firmware', OVMF, '--kernel', KERNEL, '--initrd', fx('tiny-initrd.cpio.gz'), '--append', 'console=hvc0']);
    pcr = await measure(['pcr', '--boot', 'direct', '--kernel', KERNEL, '--initrd', fx('pcr/initrd-a.cpio'), '--append', 'console=ttyS0', '--mem', '1024']);
    // CONSTRUCTED HERE: the combined document and the SLSA build record the build command (issue 5) writes
    const ovmf = readFileSync(OVMF);
    const combined = {
      schema: 'cvm-measure/measurements/v1',
      artifacts: [
        {
          name: 'firmware.OVMF.fd',
          path: 'OVMF.fd',
          size: ovmf.length,
          sha256: createHash('sha256').update(ovmf).digest('hex'),
          sha384: createHash('sha384').update(ovmf).digest('hex'),
        },
      ],
      measurements: [snp, tdx, pcr],
    };
    writeFileSync(join(dir, 'measurements.json'), JSON.stringify(combined, null, 2));
    const record = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: combined.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256, sha384: a.sha384 } })),
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          buildType: `${TAG_PREFIX}build/recipe/v1`,
          externalParameters: { recipe: 'recipes/debian-ovmf.yaml' },
          resolvedDependencies: [{ uri: 'debian:ovmf@2022.11-6+deb12u2', digest: { sha256: combined.artifacts[0]!.sha256 } }],
        },
        runDetails: { builder: { id: `${TAG_PREFIX}builder/v1` }, metadata: { finishedOn: '2026-01-01T00:00:00Z' } },
      },
    };
    writeFileSync(join(dir, 'build-record.json'), JSON.stringify(record, null, 2));
    for (const alg of ALGS) {
      const g = await cli(['keys', 'generate', '--alg', alg, '--out', key(alg)]);
      if (g.code !== 0) throw new Error(g.stderr);
    }
    writeFileSync(join(dir, 'other.pem'), '');
    const o = await cli(['keys', 'generate', '--alg', 'ecdsa-p256', '--out', join(dir, 'other.pem'), '--force']);
    if (o.code !== 0) throw new Error(o.stderr);
    for (const alg of ALGS) {
      const r = await cli(
        [
          'manifest',
          'create',
          '--measurements',
          join(dir, 'measurements.json'),
          '--build-record',
          join(dir, 'build-record.json'),
          '--key',
          key(alg),
          '--out',
          out(alg),
          '--json',
        ],
        { env },
      );
      if (r.code !== 0) throw new Error(r.stderr);
      expect(schema('manifest-create.schema.json')(JSON.parse(r.stdout))).toBe(true);
    }
  });

  describe.each(ALGS)('%s: independent validators', (alg) => {
    it('verify_corim.py --strict finds the SNP launch digest under mkey 641 (sha-384) for every vCPU count', async () => {
      const expects = Object.values(snp.digests).flatMap((d) => ['--expect', `641=7:${d}`]);
      const r = await tool(PY, [shared('tools/validate/verify_corim.py'), join(out(alg), 'snp.corim.cbor'), '--pub', pub(alg), '--strict', ...expects]);
      expect(r.out).toContain('SIGNATURE OK');
      expect(r.out).toContain('RESULT: OK (0 errors, 0 warnings)');
      expect(r.code).toBe(0);
    });
    it('verify_corim.py --strict finds MRTD and RTMR1 (mkey and integrity register)', async () => {
      const r = await tool(PY, [
        shared('tools/validate/verify_corim.py'),
        join(out(alg), 'tdx.corim.cbor'),
        '--pub',
        pub(alg),
        '--strict',
        '--expect',
        `mrtd=7:${tdx.mrtd}`,
        '--expect',
        `rtmr1=7:${tdx.rtmr['1']}`,
        '--expect',
        `ir1=7:${tdx.rtmr['1']}`,
        '--expect',
        `rtmr2=7:${tdx.rtmr['2']}`,
      ]);
      expect(r.out).toContain('RESULT: OK (0 errors, 0 warnings)');
      expect(r.code).toBe(0);
    });
    it('verify_corim.py --strict finds PCR4 (sha-256 and sha-384 banks)', async () => {
      const r = await tool(PY, [
        shared('tools/validate/verify_corim.py'),
        join(out(alg), 'pcr.corim.cbor'),
        '--pub',
        pub(alg),
        '--strict',
        '--expect',
        `pcr4=1:${pcr.pcrs.sha256['4']}`,
        '--expect',
        `pcr4=7:${pcr.pcrs.sha384['4']}`,
      ]);
      expect(r.out).toContain('RESULT: OK (0 errors, 0 warnings)');
      expect(r.code).toBe(0);
    });
    it('verify_corim.py rejects the other key and a wrong expected value', async () => {
      const wrong = await tool(PY, [shared('tools/validate/verify_corim.py'), join(out(alg), 'snp.corim.cbor'), '--pub', join(dir, 'other.pub.pem')]);
      expect(wrong.code).toBe(1);
      const d = snp.digests['1']!;
      const bad = await tool(PY, [
        shared('tools/validate/verify_corim.py'),
        join(out(alg), 'snp.corim.cbor'),
        '--pub',
        pub(alg),
        '--expect',
        `641=7:${d.slice(0, -1)}${d.endsWith('0') ? '1' : '0'}`,
      ]);
      expect(bad.code).toBe(1);
    });
    it('ruby-cose verifies every CoRIM', async () => {
      for (const p of ['snp', 'tdx', 'pcr']) {
        const r = await tool('ruby', [shared('tools/validate/ruby_cose_verify.rb'), join(out(alg), `${p}.corim.cbor`), pub(alg)]);
        expect(r.out).toContain('content-type="application/rim+cbor" verify=true');
        expect(r.code).toBe(0);
      }
    });
    it('verify_dsse.py --strict and securesystemslib verify both envelopes (DER ECDSA)', async () => {
      const ovmf = readFileSync(OVMF);
      for (const f of ['reference-values.intoto.json', 'provenance.intoto.json', 'reference-values.sigstore.json', 'provenance.sigstore.json']) {
        const r = await tool(PY, [
          shared('tools/validate/verify_dsse.py'),
          join(out(alg), f),
          '--pub',
          pub(alg),
          '--strict',
          '--subject',
          `firmware.OVMF.fd=sha384:${createHash('sha384').update(ovmf).digest('hex')}`,
        ]);
        expect(r.out).toContain('RESULT: OK (0 errors, 0 warnings)');
        if (alg !== 'ed25519') expect(r.out).toContain('DER');
        expect(r.code).toBe(0);
        if (f.endsWith('.sigstore.json')) continue; // sslib_dsse_check.py reads bare envelopes
        const s = await tool(PY, [shared('tools/validate/sslib_dsse_check.py'), join(out(alg), f), pub(alg)]);
        expect(s.out).toContain('securesystemslib: 1 signature(s) verified');
        expect(s.code).toBe(0);
      }
    });
    it('openssl verifies the DSSE signature over PAE bytes built here by hand', async () => {
      const e = JSON.parse(readFileSync(join(out(alg), 'reference-values.intoto.json'), 'utf8'));
      const body = Buffer.from(e.payload, 'base64');
      const paePath = join(out(alg), 'pae.bin');
      const sigPath = join(out(alg), 'sig.bin');
      writeFileSync(paePath, Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(e.payloadType)} ${e.payloadType} ${body.length} `), body]));
      writeFileSync(sigPath, Buffer.from(e.signatures[0].sig, 'base64'));
      const r =
        alg === 'ed25519'
          ? await tool('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', pub(alg), '-rawin', '-in', paePath, '-sigfile', sigPath])
          : await tool('openssl', ['dgst', alg === 'ecdsa-p256' ? '-sha256' : '-sha384', '-verify', pub(alg), '-signature', sigPath, paePath]);
      expect(r.out).toMatch(/Verified OK|Signature Verified Successfully/);
      expect(r.code).toBe(0);
    });
    it('manifest verify accepts every file; --json matches its schema', async () => {
      const files = [
        'snp.corim.cbor',
        'tdx.corim.cbor',
        'pcr.corim.cbor',
        'reference-values.intoto.json',
        'provenance.intoto.json',
        'reference-values.sigstore.json',
      ].map((f) => join(out(alg), f));
      const r = await cli(['manifest', 'verify', ...files, '--trust', pub(alg), '--at', '2026-06-01', '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(schema('manifest-verify.schema.json')(j)).toBe(true);
      expect(j.results.map((x: { type: string }) => x.type)).toEqual(['corim', 'corim', 'corim', 'dsse', 'dsse', 'dsse']);
      expect(j.results[0].values).toBe(4);
    });
  });

  it('reference-values.json is canonical JSON valid against its schema, and inspect --json shows it', async () => {
    const text = readFileSync(join(out('ed25519'), 'reference-values.json'), 'utf8');
    const doc = JSON.parse(text);
    const { canonicalJson } = await import('../src/sign/canonical-json.js');
    expect(text).toBe(canonicalJson(doc));
    const v = schema('reference-values.schema.json');
    expect(v(doc), JSON.stringify(v.errors)).toBe(true);
    expect(doc.snp[0].launchDigests).toEqual(snp.digests);
    expect(doc.tdx[0].mrtd).toBe(tdx.mrtd);
    expect(Object.keys(doc.tdx[0].notPredicted)).toEqual(['0', '3']);
    expect(doc.pcr[0].banks.sha256['4']).toBe(pcr.pcrs.sha256['4']);
    expect(JSON.stringify(doc)).not.toContain('/work/');
    // the document names the build record by the digest of the exact Statement bytes provenance.intoto.json signs
    const prov = JSON.parse(readFileSync(join(out('ed25519'), 'provenance.intoto.json'), 'utf8'));
    const provBody = Buffer.from(prov.payload, 'base64');
    expect(provBody.equals(readFileSync(join(dir, 'build-record.json')))).toBe(true);
    expect(doc.buildRecord).toEqual({ sha256: createHash('sha256').update(provBody).digest('hex'), predicateType: 'https://slsa.dev/provenance/v1' });
    const pcrCorim = await cli(['manifest', 'inspect', join(out('ed25519'), 'pcr.corim.cbor'), '--json']);
    const pv = JSON.parse(pcrCorim.stdout).corim.values as { key: string; environment: string; digests: Record<string, string> }[];
    expect(pv.find((x) => x.key === 'ir4')).toEqual({
      key: 'ir4',
      environment: 'vTPM PCRs (direct)',
      digests: { 1: pcr.pcrs.sha256['4'], 7: pcr.pcrs.sha384['4'] },
    });
    const inspectSchema = schema('manifest-inspect.schema.json');
    for (const f of ['reference-values.json', 'snp.corim.cbor', 'reference-values.intoto.json', 'rvps-sample.json']) {
      const r = await cli(['manifest', 'inspect', join(out('ed25519'), f), '--json']);
      expect(r.code).toBe(0);
      expect(inspectSchema(JSON.parse(r.stdout)), `${f}: ${JSON.stringify(inspectSchema.errors)}`).toBe(true);
    }
    const rvps = JSON.parse(readFileSync(join(out('ed25519'), 'rvps-sample.json'), 'utf8'));
    expect(rvps.type).toBe('sample');
    const values = JSON.parse(Buffer.from(rvps.payload, 'base64').toString('utf8'));
    expect(values.snp_launch_measurement).toEqual(Object.values(snp.digests));
    expect(values.mr_td).toEqual([tdx.mrtd]);
    expect(values.rtmr_1).toEqual([tdx.rtmr['1']]);
    expect(values.tpm_pcr4).toEqual([pcr.pcrs.sha256['4']]);
  });

  it('same inputs + same key → byte-identical outputs, for every algorithm', async () => {
    for (const alg of ALGS) {
      const again = join(dir, `again-${alg}`);
      const r = await cli(
        [
          'manifest',
          'create',
          '--measurements',
          join(dir, 'measurements.json'),
          '--build-record',
          join(dir, 'build-record.json'),
          '--key',
          key(alg),
          '--out',
          again,
          '--json',
        ],
        { env },
      );
      expect(r.code).toBe(0);
      const files = JSON.parse(r.stdout).files as { path: string }[];
      expect(files.length).toBe(15);
      for (const f of files) {
        const name = f.path.split('/').pop()!;
        expect(readFileSync(f.path).equals(readFileSync(join(out(alg), name))), `${alg} ${name}`).toBe(true);
      }
    }
  });

  it('k-of-n: an envelope signed by three keys meets --threshold 2 and 3 only with enough trusted keys', async () => {
    const multi = join(dir, 'multi');
    const c = await cli(
      [
        'manifest',
        'create',
        '--measurements',
        join(dir, 'measurements.json'),
        ...ALGS.flatMap((a) => ['--key', key(a)]),
        '--out',
        multi,
        '--formats',
        'intoto',
      ],
      { env },
    );
    expect(c.code).toBe(0);
    const f = join(multi, 'reference-values.intoto.json');
    const trust = (algs: KeyAlg[]) => algs.flatMap((a) => ['--trust', pub(a)]);
    expect((await cli(['manifest', 'verify', f, ...trust(ALGS), '--threshold', '3'])).code).toBe(0);
    expect((await cli(['manifest', 'verify', f, ...trust(['ecdsa-p256', 'ed25519']), '--threshold', '2'])).code).toBe(0);
    const short = await cli(['manifest', 'verify', f, ...trust(['ecdsa-p256', 'ed25519']), '--trust', join(dir, 'other.pub.pem'), '--threshold', '3']);
    expect(short.code).toBe(1);
    expect(errorLine(short)).toContain('2 of 3 trusted key(s) verified, threshold 3');
    const py = await tool(PY, [shared('tools/validate/verify_dsse.py'), f, ...ALGS.flatMap((a) => ['--pub', pub(a)]), '--threshold', '3', '--strict']);
    expect(py.out).toContain('RESULT: OK (0 errors, 0 warnings)');
    expect(py.code).toBe(0);
    const py2 = await tool(PY, [shared('tools/validate/verify_dsse.py'), f, '--pub', pub('ecdsa-p256'), '--pub', pub('ed25519'), '--threshold', '2']);
    expect(py2.code).toBe(0);
    const py3 = await tool(PY, [shared('tools/validate/verify_dsse.py'), f, '--pub', pub('ecdsa-p256'), '--pub', pub('ed25519'), '--threshold', '3']);
    expect(py3.code).toBe(1);
    const cor = await cli(['manifest', 'verify', join(out('ed25519'), 'snp.corim.cbor'), ...trust(ALGS), '--threshold', '2']);
    expect(cor.code).toBe(2);
  });

  it('an SNP policy becomes POLICY (mkey 2) as #6.560 little-endian bytes, accepted by verify_corim.py --strict', async () => {
    const withPolicy = join(dir, 'policy.json');
    writeFileSync(withPolicy, JSON.stringify({ ...snp, policy: '0x30000' })); // as `measure snp --policy 0x30000` prints it
    const o = join(dir, 'policy');
    expect((await cli(['manifest', 'create', '--measurements', withPolicy, '--key', key('ecdsa-p384'), '--out', o, '--formats', 'corim'], { env })).code).toBe(
      0,
    );
    const r = await tool(PY, [
      shared('tools/validate/verify_corim.py'),
      join(o, 'snp.corim.cbor'),
      '--pub',
      pub('ecdsa-p384'),
      '--strict',
      '--dump',
      '--expect',
      `641=7:${snp.digests['2']}`,
    ]);
    expect(r.out).toContain("h'0000030000000000'");
    expect(r.out).toContain('RESULT: OK (0 errors, 0 warnings)');
    writeFileSync(withPolicy, JSON.stringify({ ...snp, policy: 'debug' }));
    const bad = await cli(['manifest', 'create', '--measurements', withPolicy, '--key', key('ecdsa-p384'), '--out', o]);
    expect([bad.code, errorLine(bad)]).toEqual([1, 'cvm-measure: error: measurements.policy: must match pattern "^0x[0-9a-f]+$"']);
  });

  it('CLI errors are one line with exit 2 for usage and 1 for bad input', async () => {
    const m = join(dir, 'measurements.json');
    const noKey = await cli(['manifest', 'create', '--measurements', m, '--out', join(dir, 'x')]);
    expect([noKey.code, errorLine(noKey)]).toEqual([2, 'cvm-measure: error: --key or --signer-command is required']);
    const fmt = await cli(['manifest', 'create', '--measurements', m, '--key', key('ed25519'), '--out', join(dir, 'x'), '--formats', 'corim,xml']);
    expect([fmt.code, errorLine(fmt)]).toEqual([2, 'cvm-measure: error: --formats: "xml" is not one of corim, intoto, rvps, json']);
    writeFileSync(join(dir, 'bad.json'), '{"kind": "snp", "digests": {"1": "00"}}');
    const bad = await cli(['manifest', 'create', '--measurements', join(dir, 'bad.json'), '--key', key('ed25519'), '--out', join(dir, 'x')]);
    expect([bad.code, errorLine(bad)]).toEqual([1, "cvm-measure: error: measurements: must have required property 'origin'"]);
    const notKey = await cli(['manifest', 'create', '--measurements', m, '--key', m, '--out', join(dir, 'x')]);
    expect([notKey.code, errorLine(notKey)]).toEqual([1, `cvm-measure: error: ${m}: not a PEM private key (expected PKCS#8 or SEC1, unencrypted)`]);
    const unsigned = await cli(['manifest', 'verify', join(out('ed25519'), 'reference-values.json'), '--trust', pub('ed25519')]);
    expect(errorLine(unsigned)).toContain('reference-values.json is not signed; verify its envelope reference-values.intoto.json');
    const notManifest = await cli(['manifest', 'verify', OVMF, '--trust', pub('ed25519')]);
    expect([notManifest.code, errorLine(notManifest)]).toEqual([
      1,
      `cvm-measure: error: ${OVMF}: manifest: neither a signed CoRIM (CBOR tag 18) nor a DSSE envelope (JSON)`,
    ]);
  });

  it('rejects a wrong key, and an expired or not-yet-valid window', async () => {
    const f = join(out('ecdsa-p256'), 'snp.corim.cbor');
    const wrong = await cli(['manifest', 'verify', f, '--trust', join(dir, 'other.pub.pem')]);
    expect(wrong.code).toBe(1);
    expect(errorLine(wrong)).toContain('ES256 signature does not verify with any of 1 trusted key(s)');
    const late = await cli(['manifest', 'verify', f, '--trust', pub('ecdsa-p256'), '--at', '2027-01-02']);
    expect(late.code).toBe(1);
    expect(errorLine(late)).toContain('expired at 2027-01-01T00:00:00.000Z');
    const early = await cli(['manifest', 'verify', f, '--trust', pub('ecdsa-p256'), '--at', '2025-12-31']);
    expect(errorLine(early)).toContain('not valid before 2026-01-01T00:00:00.000Z');
    const dsseWrong = await cli(['manifest', 'verify', join(out('ed25519'), 'provenance.intoto.json'), '--trust', pub('ecdsa-p256')]);
    expect(dsseWrong.code).toBe(1);
  });
});

// ---- in-process: tampering and encodings on a small signed CoRIM and envelope

describe('manifest verify rejects tampering', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cvm-tamper-'));
  // CONSTRUCTED HERE: one SNP digest (the 1-vCPU EPYC-v4 digest of Debian's OVMF 2022.11-6+deb12u2, as `measure snp` prints it)
  const single = snpOutput({ '1': '11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3' });
  const keys = Object.fromEntries(
    ALGS.map((a) => {
      const pem = generateKey(a).privatePem;
      return [a, { signer: localSigner(parsePrivateKey(pem, a)), pub: createPublicKey(pem) }];
    }),
  ) as Record<KeyAlg, { signer: Signer; pub: ReturnType<typeof createPublicKey> }>;
  const opts = { notBefore: 1767225600, validDays: 365 };
  const now = 1767225600 + 86400;

  async function make(alg: KeyAlg) {
    const o = join(dir, alg);
    mkdirSync(o, { recursive: true });
    await createManifest({ measurements: single, signer: keys[alg].signer, outDir: o, formats: ['corim', 'intoto'], ...opts });
    return {
      corim: readFileSync(join(o, 'snp.corim.cbor')),
      envelope: readFileSync(join(o, 'reference-values.intoto.json')),
      bundle: readFileSync(join(o, 'reference-values.sigstore.json')),
    };
  }

  it.each(ALGS)(
    '%s: every single-bit flip of the signed CoRIM and of the DSSE envelope is rejected (and of the sigstore bundle, Ed25519)',
    async (alg) => {
      const { corim, envelope, bundle } = await make(alg);
      const trusted = [keys[alg].pub];
      expect(verifyManifest(corim, { trusted, now }).type).toBe('corim');
      expect(verifyManifest(envelope, { trusted, now }).type).toBe('dsse');
      expect(verifyManifest(bundle, { trusted, now }).type).toBe('dsse');
      const files = alg === 'ed25519' ? [corim, envelope, bundle] : [corim, envelope];
      let flips = 0;
      for (const file of files) {
        for (let i = 0; i < file.length * 8; i++) {
          const t = Buffer.from(file);
          t[i >> 3]! ^= 1 << (i & 7);
          expect(() => verifyManifest(t, { trusted, now }), `bit ${i}`).toThrow(CvmError); // a one-line error, never a raw exception
          flips++;
        }
      }
      expect(flips).toBe(files.reduce((n, f) => n + f.length * 8, 0));
    },
    600_000,
  );

  it('rejects a DER signature in COSE and a raw r||s signature in DSSE', async () => {
    const { corim, envelope } = await make('ecdsa-p256');
    const trusted = [keys['ecdsa-p256'].pub];
    const top = decodeCbor(corim) as Tagged;
    const arr = top.value as CborValue[];
    const der = encodeCbor(new Tagged(18, [arr[0], arr[1], arr[2], rawToDer(arr[3] as Uint8Array)]));
    expect(() => verifyManifest(der, { trusted, now })).toThrow(/signature must be raw r\|\|s of 64 bytes, got \d+ \(looks like DER\)/);
    const e = JSON.parse(envelope.toString('utf8'));
    const { derToRaw } = await import('../src/sign/ecdsa.js');
    e.signatures[0].sig = derToRaw(Buffer.from(e.signatures[0].sig, 'base64'), 32).toString('base64');
    expect(() => verifyManifest(Buffer.from(JSON.stringify(e)), { trusted, now })).toThrow('DSSE ECDSA signatures must be DER');
  });

  it('rejects alg mismatches', async () => {
    const rv = referenceValuesFrom(single);
    const copts = { issuer: 'test', notBefore: opts.notBefore, notAfter: opts.notBefore + 86400 * 365 };
    const c = corimFor('snp', rv, 'x', copts)!;
    // a P-256 signature under an ES384 header, and one under EdDSA
    for (const lie of ['ecdsa-p384', 'ed25519'] as KeyAlg[]) {
      const liar: Signer = { ...keys['ecdsa-p256'].signer, alg: lie, sign: (m) => keys['ecdsa-p256'].signer.sign(m) };
      const bytes = await signCorim(c, liar, copts);
      expect(() => verifyManifest(bytes, { trusted: [keys['ecdsa-p256'].pub], now })).toThrow("does not match any trusted key's algorithm");
      expect(() => verifyManifest(bytes, { trusted: [keys['ecdsa-p256'].pub, keys[lie].pub], now })).toThrow();
    }
    // a correct ES256 CoRIM presented to a P-384 / Ed25519 trust list
    const good = await signCorim(c, keys['ecdsa-p256'].signer, copts);
    expect(() => verifyManifest(good, { trusted: [keys['ecdsa-p384'].pub, keys.ed25519.pub], now })).toThrow(
      "alg ES256 does not match any trusted key's algorithm",
    );
  });

  it('rejects an unknown critical header and accepts a critical header it processes', async () => {
    const rv = referenceValuesFrom(single);
    const copts = { issuer: 'test', notBefore: opts.notBefore, notAfter: opts.notBefore + 86400 * 365 };
    const payload = encodeCbor(corimFor('snp', rv, 'x', copts)!);
    const signed = decodeCbor(await signCorim(corimFor('snp', rv, 'x', copts)!, keys.ed25519.signer, copts)) as Tagged;
    const headers = decodeCbor((signed.value as CborValue[])[0] as Uint8Array) as Map<CborValue, CborValue>;
    headers.delete(1);
    headers.delete(4);
    const withCrit = (crit: CborValue[], extra: [number, CborValue][]) => signSign1(new Map([...headers, [2, crit], ...extra]), payload, keys.ed25519.signer);
    const unknown = await withCrit([99], [[99, 'must understand']]);
    expect(() => verifyManifest(unknown, { trusted: [keys.ed25519.pub], now })).toThrow('critical header 99 is not understood');
    const known = await withCrit([8], []);
    expect(verifyManifest(known, { trusted: [keys.ed25519.pub], now }).type).toBe('corim');
  });

  it('rejects an expired CoRIM in-process too (corim-meta, CWT and rim-validity agree)', async () => {
    const { corim } = await make('ed25519');
    expect(() => verifyManifest(corim, { trusted: [keys.ed25519.pub], now: opts.notBefore + 366 * 86400 })).toThrow('corim-meta signature-validity: expired');
  });
});

describeShared('measurements enter the contract only through the importer', () => {
  const d = 'ab'.repeat(48);
  const fw = shared('fixtures', 'sev-snp-measure', 'ovmf_OvmfX64_suffix.bin');
  const real = () =>
    JSON.parse(JSON.stringify(snpMeasurement({ firmware: { name: fw, bytes: readFileSync(fw) } }, { vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [1] })));
  it('maps exactly the named fields: local paths become base names, derived detail is not signed', () => {
    const a = referenceValuesFrom(snpOutput({ '2': d }));
    expect(a.snp[0]!.parameters).toEqual({
      mode: 'snp',
      vmm: 'qemu',
      'vcpu.type': 'EPYC-v4',
      'vcpu.signature': '0x800f12',
      guestFeatures: '0x1',
      'quirks.ec2Rdx': '0x600',
      'quirks.qemuFpu': 'sev-init2',
      'quirks.vmsaGpaBits': 48,
      seedProvided: false,
      reference: 'virtee/sev-snp-measure 0.0.13',
    });
    expect(a.snp[0]!.inputs).toEqual({ firmware: { sha256: 'cd'.repeat(32), file: 'OVMF.fd' } });
    expect(a.artifacts).toEqual([{ name: 'OVMF.fd', sha256: 'cd'.repeat(32) }]);
  });
  it('accepts what measure prints, as is', () => {
    expect(importMeasurements(real())).toEqual(real());
    const doc = { schema: 'cvm-measure/measurements/v1', artifacts: [], measurements: [real()] };
    expect(importMeasurements(doc)).toEqual(doc);
  });
  it('rejects unknown fields, observed values, unknown kinds and malformed digests, naming the JSON path', () => {
    expect(() => importMeasurements({ ...real(), 'vcpu type': 'EPYC' })).toThrow('measurements: unknown field "vcpu type"');
    expect(() => importMeasurements({ ...real(), digests: { '1': 'abcd' } })).toThrow('measurements.digests.1: must match pattern');
    expect(() => importMeasurements({ kind: 'tdx', origin: 'observed', log: {}, events: [] })).toThrow(
      'origin "observed" (an event-log replay): only predicted values are signed',
    );
    expect(() => importMeasurements({ kind: 'sgx' })).toThrow('measurements.kind: "sgx" is not one of snp, tdx, td-shim, pcr');
    expect(() => importMeasurements({ hello: 1 })).toThrow('measurements.kind: undefined');
    expect(() => importMeasurements({ schema: 'cvm-measure/measurements/v1', artifacts: [], measurements: [{ ...real(), origin: 'observed' }] })).toThrow(
      'measurements.measurements[0]: origin "observed"',
    );
    expect(() => referenceValuesFrom({ ...snpOutput({}) })).toThrow('has no launch digests');
  });
});
