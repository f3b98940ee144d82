/**
 * Golden bytes for the signing layer (RFC 6979 deterministic ECDSA, RFC 9052 COSE_Sign1, DSSE v1 PAE,
 * RFC 8785-style canonical JSON): fixed keys and inputs, recorded from the hand-written BigInt RFC 6979
 * implementation before it was replaced by @noble/curves. Any change in curve, hash, low-S policy or
 * DER/raw encoding changes these bytes.
 */
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signSign1 } from '../src/sign/cose.js';
import { canonicalJson } from '../src/sign/canonical-json.js';
import { signEnvelope } from '../src/sign/dsse.js';
import { rawToDer } from '../src/sign/ecdsa.js';
import { signDeterministic } from '../src/sign/rfc6979.js';
import { localSigner } from '../src/sign/signer.js';
import { ecKey } from './helpers/keys.js';

/** RFC 6979 Appendix A.2.5 / A.2.6 private keys; RFC 8032 §7.1 test 1 Ed25519 secret. */
const P256 = ecKey('P-256', 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
const P384 = ecKey('P-384', '6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5');
const ED25519 = createPrivateKey({
  key: Buffer.from('302e020100300506032b657004220420' + '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'),
  format: 'der',
  type: 'pkcs8',
});

const MSGS = Array.from({ length: 6 }, (_, i) => Buffer.from(`cvm-measure golden ${i}`));

/** Raw r||s of MSGS[i]. Half of these have s > n/2: the signer does not normalize to low S. */
const P256_RAW = [
  '071442aa67d1b07f4c0bd768ba3791c86a0b5e0c500d80e984b4db44ac297137b2ad8389437f3f4d9dc173a55ece3f2b430c1a3487f3ef822d3bb10ba4b2855b',
  'a874dd40b3c3fb1b01911bd4a94ffa329fb24afe7b9dcf89651e1418299435f38ce24459ccd186f9bf4e87c1238ab17f67db55ec32ae3e49de75e39e31030647',
  'a45dfafa00d0a2cd6463833a3ea66682801f1d9e971f0793ede1944c0bc385e1dd378df52b1a59570ea1f8a47a123bbacdcb8e48ce4b3e7947ece2a59cece59b',
  '9f6de29d0a18fe53c986149bdb678216dd94ac43233dd74577a67673b4d447be68c5f369bb46162bb770cedc7d00422b30a568507fa5c7548d6f0dd5d2192803',
  'e392e478f8c416c58b2abd7b46322686696053ef1bad161a7b4ad94a84ad6a1999e62e8a8442daa3d707b9bf180e3666bf089ca643529050c7b9554fd3a82d02',
  '5701017e34c8d223f5f1789bddcd917fe0a715d6f9fa4c544c92657402684e5595d1e004087fca7aee66ed0bbf5d16af626a312644adc8b2eab68313aa2dbc48',
];
const P384_RAW = [
  '8c48b6b2c1437a6f5fe8fc43127105c902a34a8d19f865d462396c23d4abc360e85f409bb49c177d371bcd8457a230af767cab2a44aa7d94dd76f7fb181d4b784156c965477f0cc76a644316712ed3a840aae1708ee42ad85a8b7a4ec2faade5',
  '3b84a54917beaae2d15084a70a60a2997e7734714c87f2a4cbcb5d235292c6fe5e823269904338c4b775c0a26e31c50de2dafc7d8696ae49bfe83fc5bdbc3c38e98b98c9c10499f594d51b0e6d1d6c43a8c07ddf1714259dff1bf525bd024f65',
  '8a536fb2e1a9d158c4f8081288f2407da6a08d6f7fe8f7abe89370a07b9bb08cc158411db87b48e6dd838d89b4512fae93b7ae0898b5f2d6c848ec3ee773f36900001d8f297af6416bcc05425fd8ffcb21de13cc199bbc7a292eba6675659645',
  'fb8c1022b9d34ac5dfa8b16dd8c62a187749f8172f9e040e85d969b7163da629c5c6ae71c18fe46adfabd3bf961500b970b65a8e9fad42208a1275d49fd15f49f955a76895be325e50b0e3d1f05daab21edf63738ab09ae78eb6e480fb9b6641',
  '672683c22e7e916058e386fe5d68e67733d31a2eb0d782e8fc3cd29255913cfae277b9426d4753b3ac4350a19e1e7b1954809e70f9670168bb88db4809ef3afe14e717e65cd37f5ed1ea0c48f65b1e55d9f62ba9ac3dceecffb8484bb3a70588',
  '772f60d5b30cd30cc15b95a18072e1ae5c6d449b00db73e34169a287f60980b0414adf35c44a2a24968153dadb81e07c2c3fa18cb84bf94c531919d1d0d835e2bc5ecf571c9ab1c5c441e0a8d9a04474f0b377dab909d67a9567bed7c499f29f',
];
/** n/2 (SEC 2 §2.4.2, §2.5.1), to show both high- and low-S signatures are covered. */
const HALF = {
  p256: '7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8',
  p384: '7fffffffffffffffffffffffffffffffffffffffffffffffe3b1a6c0fa1b96efac0d06d9245853bd76760cb5666294b9',
};
/** DER (SEC 1 §C.5) of P256_RAW, what DSSE carries. */
const P256_DER = [
  '30450220071442aa67d1b07f4c0bd768ba3791c86a0b5e0c500d80e984b4db44ac297137022100b2ad8389437f3f4d9dc173a55ece3f2b430c1a3487f3ef822d3bb10ba4b2855b',
  '3046022100a874dd40b3c3fb1b01911bd4a94ffa329fb24afe7b9dcf89651e1418299435f30221008ce24459ccd186f9bf4e87c1238ab17f67db55ec32ae3e49de75e39e31030647',
  '3046022100a45dfafa00d0a2cd6463833a3ea66682801f1d9e971f0793ede1944c0bc385e1022100dd378df52b1a59570ea1f8a47a123bbacdcb8e48ce4b3e7947ece2a59cece59b',
  '30450221009f6de29d0a18fe53c986149bdb678216dd94ac43233dd74577a67673b4d447be022068c5f369bb46162bb770cedc7d00422b30a568507fa5c7548d6f0dd5d2192803',
  '3046022100e392e478f8c416c58b2abd7b46322686696053ef1bad161a7b4ad94a84ad6a1902210099e62e8a8442daa3d707b9bf180e3666bf089ca643529050c7b9554fd3a82d02',
  '304502205701017e34c8d223f5f1789bddcd917fe0a715d6f9fa4c544c92657402684e5502210095d1e004087fca7aee66ed0bbf5d16af626a312644adc8b2eab68313aa2dbc48',
];
const ED25519_SIG = 'b04e2b56f70a40a45d8909891e0cf4167fe604bca1a8f29fd961f1890f8bb475bfed32f872e9f5750b538feef6cf40c10acf634150635eabd1e3168f0732e106';
/** #6.18(COSE_Sign1) of "golden payload" with protected {3: "application/rim+cbor"}: P-256, P-384, Ed25519. */
const COSE = [
  'd284583ca3012603746170706c69636174696f6e2f72696d2b63626f720458205a7a78cca4a0f420d9bc62bb669c3c2759e39f723d3ae10dcbe0f0815a07ecd4a04e676f6c64656e207061796c6f61645840c77657391de3337e26f697ce17c2410fcda0c98134c903810cf28e9a3d08d16159774f80798b6608de129cc4c03097b1e0dca1da4e3fd00081c51ef1430ee422',
  'd284583da301382203746170706c69636174696f6e2f72696d2b63626f720458202f95601fa82060b909bfc6b979dbd303d34d34e0afb27ea496beac362f242a4ba04e676f6c64656e207061796c6f61645860185ed42bcaa943143bcd0de5f6b80d61ef840ba3be251470b1fff1a8de15e2bc451ee9ab3097e2bd9df53b23964054fae8a13247e8644caeb83c6162c68577a24028d5cc24c2ff6891305f3660cfdb532f6d47a09e23e3cccbbd3194b58286a9',
  'd284583ca3012703746170706c69636174696f6e2f72696d2b63626f7204582006e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9a04e676f6c64656e207061796c6f6164584076151a8db6d76852bc9da045da25633180462fdc719fe9e34326b509c34228bd1de8b70c5196965c3d0448744d82ea0b1d76af42f4e9aa1fa43a535ad2c3810b',
];
const CANON = '{"a":{"y":1.5,"z":true},"b":[1,"x",null]}';
/** Canonical JSON of the 3-signature DSSE envelope over CANON. */
const DSSE =
  '{"payload":"eyJhIjp7InkiOjEuNSwieiI6dHJ1ZX0sImIiOlsxLCJ4IixudWxsXX0=","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"5a7a78cca4a0f420d9bc62bb669c3c2759e39f723d3ae10dcbe0f0815a07ecd4","sig":"MEUCIEktNvqLPeRY6JOyarN8dC7vCaSPEFQwAswX4LH9MFPcAiEArMPzmiOk5+iP88/fshtl0LZGmteiUOBzfCDbrvIYBZk="},{"keyid":"2f95601fa82060b909bfc6b979dbd303d34d34e0afb27ea496beac362f242a4b","sig":"MGUCMQCP25XjTP4y6ZajgypRUl8LkFfQNWtluakCqbrLtNeDCumM2XUbY9XK9o3O3/TghhwCMFyXaowasH3sbACkMGC8lm5UvO3ptpeOkT3i5K47yui8odpH7RM4SIUaqJevr23knw=="},{"keyid":"06e3fd8fda29bb60ab59557de61edb0aecdb231134be30e75b455f8e1b792fa9","sig":"Q24Sm4UpHnf5IUMnK/mpU5i+YMydJ+hltjCIS1qRCiW55ystVz25DoYUsEEQCZCyk+5T2sHvlF922FUmh82PDQ=="}]}';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const signers = () => [P256, P384, ED25519].map(localSigner);

describe('signing golden bytes (fixed keys and inputs)', () => {
  it('deterministic ECDSA P-256/SHA-256 and P-384/SHA-384, raw r||s, high S kept', () => {
    expect(MSGS.map((m) => hex(signDeterministic('ecdsa-p256', P256, m)))).toEqual(P256_RAW);
    expect(MSGS.map((m) => hex(signDeterministic('ecdsa-p384', P384, m)))).toEqual(P384_RAW);
    for (const [sigs, half] of [
      [P256_RAW, HALF.p256],
      [P384_RAW, HALF.p384],
    ] as const) {
      const highS = sigs.map((s) => s.slice(s.length / 2) > half);
      expect(highS).toContain(true);
      expect(highS).toContain(false);
    }
  });
  it('DER encoding of ECDSA signatures', () => {
    expect(MSGS.map((m) => hex(rawToDer(signDeterministic('ecdsa-p256', P256, m))))).toEqual(P256_DER);
  });
  it('local signers: ECDSA as above, Ed25519 (RFC 8032) as node:crypto signs it', async () => {
    const [p256, p384, ed] = signers();
    expect(hex(await p256!.sign(MSGS[0]!))).toBe(P256_RAW[0]);
    expect(hex(await p384!.sign(MSGS[0]!))).toBe(P384_RAW[0]);
    expect(hex(await ed!.sign(MSGS[0]!))).toBe(ED25519_SIG);
  });
  it('COSE_Sign1 bytes', async () => {
    const out = [];
    for (const s of signers()) out.push(hex(await signSign1(new Map([[3, 'application/rim+cbor']]), Buffer.from('golden payload'), s)));
    expect(out).toEqual(COSE);
  });
  it('canonical JSON and the DSSE envelope', async () => {
    const body = Buffer.from(canonicalJson({ b: [1, 'x', null], a: { z: true, y: 1.5 } }), 'utf8');
    expect(body.toString()).toBe(CANON);
    expect(canonicalJson(await signEnvelope('application/vnd.in-toto+json', body, signers()))).toBe(DSSE);
  });
});
