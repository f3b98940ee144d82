/**
 * `snp id-block`: ID_BLOCK / ID_AUTH_INFO layout (SNP ABI spec), signatures verified by the openssl
 * CLI (independent of our code), key digests recomputed from the embedded keys; and, when the
 * sev-snp-measure checkout is available ($CVM_SNP_ORACLE/ssm), byte-for-byte agreement with its
 * test keys and the expected outputs in its tests/test_id_block.py. Without the checkout, a recorded
 * run of the reference on our own test keys (test/fixtures/id-block) is the cross-check.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { cli, errorLine } from './helpers/cli.js';
import { ROOT } from './helpers/shared.js';

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(JSON.parse(readFileSync(resolve(ROOT, 'schemas/snp-id-block.schema.json'), 'utf8')) as object);
const dir = mkdtempSync(join(tmpdir(), 'cvm-idblock-'));

function keyPair(name: string, curve = 'secp384r1'): { pem: string; pub: KeyObject; pubPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const pem = join(dir, `${name}.pem`);
  writeFileSync(pem, privateKey.export({ format: 'pem', type: 'sec1' }));
  const pubPem = join(dir, `${name}.pub.pem`);
  writeFileSync(pubPem, publicKey.export({ format: 'pem', type: 'spki' }));
  return { pem, pub: publicKey, pubPem };
}

/** DER INTEGER of a little-endian SNP field. */
function derInt(le: Buffer): Buffer {
  let be = Buffer.from(le).reverse();
  while (be.length > 1 && be[0] === 0) be = be.subarray(1);
  if (be[0]! & 0x80) be = Buffer.concat([Buffer.alloc(1), be]);
  return Buffer.concat([Buffer.from([0x02, be.length]), be]);
}

/** Verifies an SNP-format signature (R, S little-endian in 72-byte fields) over `data` with openssl dgst. */
function opensslVerify(pubPem: string, sig: Buffer, data: Buffer): string {
  const body = Buffer.concat([derInt(sig.subarray(0, 72)), derInt(sig.subarray(72, 144))]);
  const der = Buffer.concat([Buffer.from([0x30, body.length]), body]);
  const sigFile = join(dir, 'sig.der');
  const dataFile = join(dir, 'data.bin');
  writeFileSync(sigFile, der);
  writeFileSync(dataFile, data);
  return execFileSync('openssl', ['dgst', '-sha384', '-verify', pubPem, '-signature', sigFile, dataFile], { encoding: 'utf8' }).trim();
}

describe('snp id-block', () => {
  const id = keyPair('id');
  const author = keyPair('author');
  const digest = createHash('sha384').update('a launch digest').digest();

  it('builds ID_BLOCK and ID_AUTH whose signatures openssl verifies', async () => {
    const r = await cli([
      'snp',
      'id-block',
      '--digest',
      digest.toString('hex'),
      '--id-key',
      id.pem,
      '--author-key',
      author.pem,
      '--family-id',
      '00112233445566778899aabbccddeeff',
      '--image-id',
      'ff'.repeat(16),
      '--guest-svn',
      '7',
      '--policy',
      '0x30000',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { idBlock: string; idAuth: string; idKeyDigest: string; authorKeyDigest: string };
    expect(validate(out), ajv.errorsText(validate.errors)).toBe(true);
    const block = Buffer.from(out.idBlock, 'base64');
    const auth = Buffer.from(out.idAuth, 'base64');
    // ID_BLOCK: LD, FAMILY_ID, IMAGE_ID, VERSION = 1, GUEST_SVN, POLICY.
    expect(block.subarray(0, 48)).toEqual(digest);
    expect(block.subarray(0x30, 0x40).toString('hex')).toBe('00112233445566778899aabbccddeeff');
    expect(block.subarray(0x40, 0x50).toString('hex')).toBe('ff'.repeat(16));
    expect([block.readUInt32LE(0x50), block.readUInt32LE(0x54), block.readBigUInt64LE(0x58)]).toEqual([1, 7, 0x30000n]);
    // ID_AUTH_INFO: algorithms, then the ID key and author key in SNP public-key format.
    expect([auth.readUInt32LE(0), auth.readUInt32LE(4)]).toEqual([1, 1]);
    const idKey = auth.subarray(0x240, 0x240 + 0x404);
    const authorKey = auth.subarray(0x880, 0x880 + 0x404);
    for (const [k, pub] of [
      [idKey, id.pub],
      [authorKey, author.pub],
    ] as const) {
      const jwk = pub.export({ format: 'jwk' });
      expect(k.readUInt32LE(0)).toBe(2);
      expect(
        Buffer.from(k.subarray(4, 4 + 48))
          .reverse()
          .toString('base64url'),
      ).toBe(jwk.x);
      expect(
        Buffer.from(k.subarray(76, 76 + 48))
          .reverse()
          .toString('base64url'),
      ).toBe(jwk.y);
      expect(k.subarray(4 + 48, 76).equals(Buffer.alloc(24))).toBe(true);
    }
    expect(out.idKeyDigest).toBe(createHash('sha384').update(idKey).digest('hex'));
    expect(out.authorKeyDigest).toBe(createHash('sha384').update(authorKey).digest('hex'));
    expect(opensslVerify(id.pubPem, auth.subarray(0x40, 0x240), block)).toBe('Verified OK');
    expect(opensslVerify(author.pubPem, auth.subarray(0x680, 0x880), idKey)).toBe('Verified OK');
    expect(() => opensslVerify(author.pubPem, auth.subarray(0x40, 0x240), block)).toThrow();
  });

  it('text output has sev-snp-measure snp-create-id-block form', async () => {
    const r = await cli(['snp', 'id-block', '--digest', digest.toString('hex'), '--id-key', id.pem, '--author-key', author.pem]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^id-block=[A-Za-z0-9+/]{128},id-auth=[A-Za-z0-9+/]{5462}==\nid_key_hash: [A-Za-z0-9+/]{64}\nauthor_key: [A-Za-z0-9+/]{64}\n$/);
  });

  it('rejects keys that are not P-384 and bad digests in one line', async () => {
    const p256 = keyPair('p256', 'prime256v1');
    const r = await cli(['snp', 'id-block', '--digest', digest.toString('hex'), '--id-key', p256.pem, '--author-key', author.pem]);
    expect(r.code).toBe(1);
    expect(errorLine(r)).toMatch(/must be an ECDSA P-384 key .*prime256v1/);
    const short = await cli(['snp', 'id-block', '--digest', 'abcd', '--id-key', id.pem, '--author-key', author.pem]);
    expect(errorLine(short)).toMatch(/--digest: expected 48 bytes, got 2/);
    const notPem = await cli(['snp', 'id-block', '--digest', digest.toString('hex'), '--id-key', '/dev/null', '--author-key', author.pem]);
    expect(errorLine(notPem)).toMatch(/ID key \/dev\/null: not a PEM private key/);
  });

  const unsigned = (b: Buffer) => Buffer.concat([b.subarray(0, 0x40), b.subarray(0x240, 0x680), b.subarray(0x880)]);

  it('matches a recorded sev-snp-measure 0.0.13 run on our own test keys (test/fixtures/id-block)', async () => {
    const fx = resolve(ROOT, 'test/fixtures/id-block');
    const ref = JSON.parse(readFileSync(join(fx, 'sev-snp-measure-0.0.13.json'), 'utf8')) as {
      digest: string;
      idBlock: string;
      idAuth: string;
      idKeyDigest: string;
      authorKeyDigest: string;
    };
    const r = await cli(['snp', 'id-block', '--digest', ref.digest, '--id-key', join(fx, 'id-key.pem'), '--author-key', join(fx, 'author-key.pem'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { idBlock: string; idAuth: string; idKeyDigest: string; authorKeyDigest: string };
    expect(out.idBlock).toBe(ref.idBlock);
    expect(Buffer.from(out.idKeyDigest, 'hex').toString('base64')).toBe(ref.idKeyDigest);
    expect(Buffer.from(out.authorKeyDigest, 'hex').toString('base64')).toBe(ref.authorKeyDigest);
    // Everything but the (randomized) signatures equals the reference's ID_AUTH ...
    const ours = Buffer.from(out.idAuth, 'base64');
    const theirs = Buffer.from(ref.idAuth, 'base64');
    expect(unsigned(ours).equals(unsigned(theirs))).toBe(true);
    // ... and the reference's signatures verify with the same keys as ours do.
    const pub = (pem: string) => {
      const out = join(dir, `${pem}.pub`);
      execFileSync('openssl', ['ec', '-in', join(fx, pem), '-pubout', '-out', out], { stdio: 'ignore' });
      return out;
    };
    const block = Buffer.from(ref.idBlock, 'base64');
    expect(opensslVerify(pub('id-key.pem'), theirs.subarray(0x40, 0x240), block)).toBe('Verified OK');
    expect(opensslVerify(pub('author-key.pem'), theirs.subarray(0x680, 0x880), theirs.subarray(0x240, 0x240 + 0x404))).toBe('Verified OK');
  });

  const oracle = process.env.CVM_SNP_ORACLE && resolve(process.env.CVM_SNP_ORACLE, 'ssm');
  const oracleIt = oracle && existsSync(join(oracle, 'tests/test_id_block.py')) ? it : it.skip;
  if (!oracle) process.stderr.write('\n*** SKIPPED sev-snp-measure id-block cross-check: set CVM_SNP_ORACLE to a dir holding its checkout as ssm/ ***\n');
  oracleIt('matches sev-snp-measure test_id_block.py byte for byte with its test keys', async () => {
    const py = readFileSync(join(oracle!, 'tests/test_id_block.py'), 'utf8');
    const ld = /b64decode\("([^"]+)"\)/.exec(py)![1]!;
    const block = [...py.matchAll(/'(id-block=[^']*|[A-Za-z0-9+/=]+)'/g)]
      .map((m) => m[1])
      .join('')
      .split(',')[0]!;
    const idHash = /id_key_hash: ([^"]+)"/.exec(py)![1]!;
    const authorHash = /author_key: ([^"]+)"/.exec(py)![1]!;
    const r = await cli([
      'snp',
      'id-block',
      '--digest',
      Buffer.from(ld, 'base64').toString('hex'),
      '--id-key',
      join(oracle!, 'tests/keyfile/id_key_test.pem'),
      '--author-key',
      join(oracle!, 'tests/keyfile/author_key_test.pem'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${block},id-auth=`);
    expect(r.stdout).toContain(`id_key_hash: ${idHash}\n`);
    expect(r.stdout).toContain(`author_key: ${authorHash}\n`);
    // Everything but the (randomized) signatures equals the reference's ID_AUTH.
    const ours = Buffer.from(/id-auth=([^\n]+)/.exec(r.stdout)![1]!, 'base64');
    const ref = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        `import sys; sys.path.insert(0, '${oracle}'); from sevsnpmeasure import id_block; import base64; print(id_block.snp_calc_id_block(base64.b64decode('${ld}'), '${oracle}/tests/keyfile/id_key_test.pem', '${oracle}/tests/keyfile/author_key_test.pem'))`,
      ],
      { encoding: 'utf8' },
    );
    const theirs = Buffer.from(/id-auth=([^\n]+)/.exec(ref)![1]!, 'base64');
    expect(unsigned(ours).equals(unsigned(theirs))).toBe(true);
  });
});
