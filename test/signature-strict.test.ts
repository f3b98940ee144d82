/**
 * Signed manifests are read exactly as strictly as docs/manifests.md says: one meaning per envelope
 * (no duplicate JSON members), canonical base64, string keyids, core-deterministic COSE headers, the
 * reference-values Statement bound to the CoRIMs' validity window, and each key counted once toward
 * a threshold.
 */
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { decodeCbor, encodeCbor, Tagged, type CborValue } from '../src/formats/cbor.js';
import { createManifest } from '../src/manifest/create.js';
import { REFERENCE_VALUES_PREDICATE, STATEMENT_V1 } from '../src/manifest/intoto.js';
import { verifyManifest } from '../src/manifest/verify.js';
import { canonicalJson } from '../src/sign/canonical-json.js';
import { sigStructure } from '../src/sign/cose.js';
import { INTOTO_PAYLOAD_TYPE, signEnvelope } from '../src/sign/dsse.js';
import { generateKey, parsePrivateKey } from '../src/sign/keys.js';
import { localSigner } from '../src/sign/signer.js';
import { cli, errorLine } from './helpers/cli.js';
import { snpOutput } from './helpers/measurements.js';

const dir = mkdtempSync(join(tmpdir(), 'cvm-strict-'));
const pem = generateKey('ecdsa-p256').privatePem;
const signer = localSigner(parsePrivateKey(pem, 'k'));
const pub = createPublicKey(pem);
const other = createPublicKey(generateKey('ed25519').privatePem);
const NB = 1767225600; // 2026-01-01
const now = NB + 86400;
const single = snpOutput({ '1': '11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3' });
let envelope: string;
let bundle: string;
let corim: Buffer;
const verify = (text: string | Uint8Array, o: { now?: number; threshold?: number; trusted?: ReturnType<typeof createPublicKey>[] } = {}) =>
  verifyManifest(typeof text === 'string' ? Buffer.from(text) : text, { trusted: [pub], now, ...o });

beforeAll(async () => {
  await createManifest({ measurements: single, signer, outDir: dir, formats: ['corim', 'intoto'], notBefore: NB, validDays: 30 });
  envelope = readFileSync(join(dir, 'reference-values.intoto.json'), 'utf8');
  bundle = readFileSync(join(dir, 'reference-values.sigstore.json'), 'utf8');
  corim = readFileSync(join(dir, 'snp.corim.cbor'));
  expect(verify(envelope).type).toBe('dsse');
  expect(verify(bundle).type).toBe('dsse');
  expect(verify(corim).type).toBe('corim');
});

describe('DSSE envelopes have one meaning', () => {
  it('a duplicate "payload" member is refused (JSON.parse keeps the last, a first-wins parser sees the other)', async () => {
    const other = await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from('{"something":"else"}'), [signer]);
    const dup = envelope.replace(/^\{/, `{"payload":${JSON.stringify(other.payload)},`);
    expect(JSON.parse(dup).payload).toBe(JSON.parse(envelope).payload);
    expect(() => verify(dup)).toThrow('DSSE envelope: duplicate member "payload"');
    // the same name spelled with an escape is the same member
    expect(() => verify(envelope.replace(/^\{/, `{"pay\\u006coad":${JSON.stringify(other.payload)},`))).toThrow('duplicate member "payload"');
  });

  it('duplicate members are refused at any depth: in a signature, in a bundle, in the signed Statement', async () => {
    expect(() => verify(envelope.replace('{"keyid":', '{"sig":"AAAA","keyid":'))).toThrow('duplicate member "sig"');
    expect(() => verify(bundle.replace(/^\{/, '{"mediaType":"x",'))).toThrow('duplicate member "mediaType"');
    const st = `{"_type":"${STATEMENT_V1}","predicateType":"x","predicateType":"y","subject":[{"name":"a","digest":{"sha256":"${'0'.repeat(64)}"}}],"predicate":{}}`;
    const e = await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(st), [signer]);
    expect(() => verify(JSON.stringify(e))).toThrow('DSSE payload: duplicate member "predicateType"');
  });

  it('payload and signatures must be canonical base64: padded, standard alphabet', async () => {
    const e = JSON.parse(envelope);
    expect(e.payload).toMatch(/=$/); // the canonical JSON length leaves padding here, so stripping it makes a difference
    expect(() => verify(JSON.stringify({ ...e, payload: e.payload.replace(/=+$/, '') }))).toThrow('payload is not canonical base64');
    // a Statement whose base64 uses + or /: its base64url form differs
    const st = JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8'));
    st.subject[0].name = 'firmware~~~?>';
    const body = Buffer.from(canonicalJson(st));
    const u = await signEnvelope(INTOTO_PAYLOAD_TYPE, body, [signer]);
    expect(u.payload).toMatch(/[+/]/);
    expect(verify(JSON.stringify(u)).type).toBe('dsse');
    const url = body.toString('base64url');
    expect(() => verify(JSON.stringify({ ...u, payload: url }))).toThrow('payload is not canonical base64');
    const padded = `${url}${'='.repeat((4 - (url.length % 4)) % 4)}`;
    expect(() => verify(JSON.stringify({ ...u, payload: padded }))).toThrow('payload is not canonical base64');
    const sig = e.signatures[0].sig as string;
    const unpadded = sig.replace(/=+$/, '');
    const sigs = [sig.endsWith('=') ? unpadded : Buffer.from(sig, 'base64').toString('base64url'), `${sig}=`];
    for (const s of sigs) expect(() => verify(JSON.stringify({ ...e, signatures: [{ ...e.signatures[0], sig: s }] })), s).toThrow(/not (canonical )?base64/);
  });

  it.each([0, null, 1, true, {}])('keyid %j is refused: it must be a string when present', (keyid) => {
    const e = JSON.parse(envelope);
    expect(() => verify(JSON.stringify({ ...e, signatures: [{ keyid, sig: e.signatures[0].sig }] }))).toThrow('signatures[0].keyid must be a string');
  });
});

describe('COSE', () => {
  it('a protected header that is not core-deterministic CBOR is refused even with a valid signature over it', async () => {
    const [prot, , payload] = (decodeCbor(corim) as Tagged).value as [Uint8Array, CborValue, Uint8Array];
    expect(prot[0]! >> 5).toBe(5); // a map with a short count
    // the same map, its count in the non-shortest one-byte-argument form
    const loose = Buffer.concat([Buffer.from([0xb8, prot[0]! & 0x1f]), prot.subarray(1)]);
    const sig = await signer.sign(sigStructure(loose, payload));
    const bytes = encodeCbor(new Tagged(18, [loose, new Map(), payload, sig]));
    expect(() => verify(bytes)).toThrow('COSE protected header');
    expect(() => verify(bytes)).toThrow('not core deterministic');
  });
});

describe('validity of the reference-values Statement', () => {
  it('carries the CoRIMs window and is refused outside it, like the CoRIM', () => {
    const st = JSON.parse(Buffer.from(JSON.parse(envelope).payload, 'base64').toString('utf8'));
    expect(st.predicate.validity).toEqual({ notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-01-31T00:00:00Z' });
    const late = NB + 31 * 86400;
    expect(() => verify(corim, { now: late })).toThrow('expired');
    for (const f of [envelope, bundle]) {
      expect(() => verify(f, { now: late })).toThrow('reference-values predicate validity: expired at 2026-01-31T00:00:00.000Z');
      expect(() => verify(f, { now: NB - 1 })).toThrow('reference-values predicate validity: not valid before 2026-01-01T00:00:00.000Z');
      expect(verify(f, { now: NB + 30 * 86400 }).type).toBe('dsse');
    }
  });

  it('a reference-values Statement without a validity window is refused', async () => {
    const st = JSON.parse(Buffer.from(JSON.parse(envelope).payload, 'base64').toString('utf8'));
    delete st.predicate.validity;
    const e = await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from(canonicalJson(st)), [signer]);
    expect(st.predicateType).toBe(REFERENCE_VALUES_PREDICATE);
    expect(() => verify(JSON.stringify(e))).toThrow('reference-values predicate: validity {notBefore, notAfter} (RFC 3339 UTC) missing or malformed');
  });
});

describe('thresholds count keys, not key ids or copies', () => {
  it('the same public key trusted twice (as a public key and through its private key) counts once', () => {
    const same = createPublicKey(createPublicKey(pem).export({ type: 'spki', format: 'pem' }));
    expect(() => verify(envelope, { trusted: [pub, same], threshold: 2 })).toThrow(UsageError);
    expect(() => verify(envelope, { trusted: [pub, same], threshold: 2 })).toThrow('only 1 distinct trusted key(s)');
    expect(verify(envelope, { trusted: [pub, same] }).keyIds).toEqual([signer.keyId]);
  });

  it('two signatures by one key (with or without its keyid) count once', async () => {
    const e = JSON.parse(envelope);
    const twice = { ...e, signatures: [e.signatures[0], { sig: e.signatures[0].sig }] };
    expect(verify(JSON.stringify(twice), { trusted: [pub, other] }).keyIds).toEqual([signer.keyId]);
    expect(() => verify(JSON.stringify(twice), { trusted: [pub, other], threshold: 2 })).toThrow('1 of 2 trusted key(s) verified, threshold 2');
  });

  it('CLI: a threshold above the distinct trusted keys is a usage error (exit 2)', async () => {
    writeFileSync(join(dir, 'k.pem'), pem);
    writeFileSync(join(dir, 'k.pub.pem'), pub.export({ type: 'spki', format: 'pem' }));
    const f = join(dir, 'reference-values.intoto.json');
    const r = await cli(['manifest', 'verify', f, '--trust', join(dir, 'k.pub.pem'), '--trust', join(dir, 'k.pem'), '--threshold', '2', '--at', '2026-01-02']);
    expect([r.code, errorLine(r)]).toEqual([2, `cvm-measure: error: ${f}: --threshold 2: only 1 distinct trusted key(s) (a key given twice counts once)`]);
    const ok = await cli(['manifest', 'verify', f, '--trust', join(dir, 'k.pub.pem'), '--trust', join(dir, 'k.pem'), '--at', '2026-01-02']);
    expect(ok.code).toBe(0);
  });
});

describe('DSSE: a hostile envelope', () => {
  it('more signatures than max(16, 2 × trusted keys) is refused before any is tried', async () => {
    const k = generateKey('ed25519');
    const signer = localSigner(parsePrivateKey(k.privatePem, 'k'));
    const env = await signEnvelope(INTOTO_PAYLOAD_TYPE, Buffer.from('{}'), [signer]);
    const { verifyEnvelope } = await import('../src/sign/dsse.js');
    const key = createPublicKey(k.publicPem);
    expect(verifyEnvelope({ ...env, signatures: Array(16).fill(env.signatures[0]) }, [key]).keyIds).toHaveLength(1);
    expect(() => verifyEnvelope({ ...env, signatures: Array(17).fill(env.signatures[0]) }, [key])).toThrow(/17 signatures: more than the 16/);
  });
});
