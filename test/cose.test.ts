import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, Tagged } from '../src/formats/cbor.js';
import { parseSign1, sigStructure, signSign1, verifySign1 } from '../src/sign/cose.js';
import { generateKey, parsePrivateKey, parsePublicKey } from '../src/sign/keys.js';
import { localSigner } from '../src/sign/signer.js';
import { describeShared, shared } from './helpers/shared.js';

describe('COSE_Sign1', () => {
  it('Sig_structure is ["Signature1", protected, external_aad, payload] (RFC 9052 §4.4)', () => {
    expect(Buffer.from(sigStructure(Buffer.from('a10126', 'hex'), Buffer.from('hi'))).toString('hex')).toBe('846a5369676e61747572653143a1012640426869');
  });

  it('signs with alg and kid in the protected header and an empty unprotected map', async () => {
    const g = generateKey('ecdsa-p384');
    const s = localSigner(parsePrivateKey(g.privatePem, 'k'));
    const bytes = await signSign1(new Map([[3, 'application/rim+cbor']]), Buffer.from('payload'), s);
    const m = parseSign1(bytes);
    expect([...m.protected]).toEqual(
      [
        [1, -35],
        [3, 'application/rim+cbor'],
        [4, Buffer.from(s.keyId, 'hex')],
      ].map(([k, v]) => [k, v instanceof Buffer ? new Uint8Array(v) : v]),
    );
    expect(m.unprotected.size).toBe(0);
    expect(m.signature.length).toBe(96);
    expect(verifySign1(m, [parsePublicKey(g.publicPem, 'p')]).keyId).toBe(s.keyId);
  });

  it('rejects alg in the unprotected header, a missing alg and a detached payload', async () => {
    const g = generateKey('ed25519');
    const s = localSigner(parsePrivateKey(g.privatePem, 'k'));
    const pub = parsePublicKey(g.publicPem, 'p');
    const arr = (decodeCbor(await signSign1(new Map(), Buffer.from('x'), s)) as Tagged).value as [Uint8Array, Map<number, unknown>, Uint8Array, Uint8Array];
    const unprot = parseSign1(encodeCbor(new Tagged(18, [arr[0], new Map([[1, -8]]), arr[2], arr[3]])));
    expect(() => verifySign1(unprot, [pub])).toThrow('alg must be in the protected header');
    const noAlg = parseSign1(encodeCbor(new Tagged(18, [encodeCbor(new Map([[4, new Uint8Array(1)]])), new Map(), arr[2], arr[3]])));
    expect(() => verifySign1(noAlg, [pub])).toThrow('no integer alg');
    expect(() => parseSign1(encodeCbor(new Tagged(18, [arr[0], new Map(), null, arr[3]])))).toThrow('detached payload');
    expect(() => parseSign1(encodeCbor([arr[0], new Map(), arr[2], arr[3]]))).toThrow('expected tag 18');
  });
});

describeShared('COSE_Sign1 on third-party signed CoRIMs (veraison/corim, Go)', () => {
  const key = createPublicKey({ key: JSON.parse(readFileSync(shared('tools/corim/veraison-test-es256-pub.jwk'), 'utf8')), format: 'jwk' });
  it.each(['signed-good-corim.cbor', 'signed-example-corim.cbor'])("verifies %s with veraison's ES256 test key", (f) => {
    const m = parseSign1(readFileSync(shared('tools/corim/veraison-corim/corim/testcases', f)));
    expect(verifySign1(m, [key], [8]).alg).toBe('ecdsa-p256');
    const t = Buffer.from(m.payload);
    t[t.length - 1]! ^= 1;
    expect(() => verifySign1({ ...m, payload: t }, [key], [8])).toThrow('does not verify');
  });
});
