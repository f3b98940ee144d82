import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { derToRaw, rawToDer } from '../src/sign/ecdsa.js';
import { signDeterministic } from '../src/sign/rfc6979.js';
import { generateKey, keyId, parsePrivateKey, parsePublicKey, type KeyAlg } from '../src/sign/keys.js';
import { commandSigner } from '../src/sign/command-signer.js';
import { localSigner } from '../src/sign/signer.js';
import { cli, errorLine } from './helpers/cli.js';
import { ecKey } from './helpers/keys.js';
import { ROOT } from './helpers/shared.js';

describe('deterministic ECDSA (RFC 6979 Appendix A.2.5 / A.2.6, message "sample")', () => {
  it('P-256 / SHA-256', () => {
    const k = ecKey('P-256', 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
    expect(signDeterministic('ecdsa-p256', k, Buffer.from('sample')).toString('hex')).toBe(
      'efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716' + 'f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8',
    );
  });
  it('P-384 / SHA-384', () => {
    const k = ecKey('P-384', '6b9d3dad2e1b8c1c05b19875b6659f4de23c3b667bf297ba9aa47740787137d896d5724e4c70a825f872c9ea60d2edf5');
    expect(signDeterministic('ecdsa-p384', k, Buffer.from('sample')).toString('hex')).toBe(
      '94edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c81a648152e44acf96e36dd1e80fabe46' +
        '99ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94fa329c145786e679e7b82c71a38628ac8',
    );
  });
  it('P-256 / SHA-256, message "test"', () => {
    const k = ecKey('P-256', 'c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721');
    expect(signDeterministic('ecdsa-p256', k, Buffer.from('test')).toString('hex')).toBe(
      'f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367' + '019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083',
    );
  });
});

describe('ECDSA signature encodings', () => {
  it('raw ⇄ DER round-trips, including high-bit and short integers', () => {
    const raw = Buffer.concat([Buffer.alloc(31), Buffer.of(0x80), Buffer.alloc(32, 0x7f)]);
    const der = rawToDer(raw);
    expect(der.toString('hex')).toBe('3026' + '02020080' + '0220' + '7f'.repeat(32));
    expect(derToRaw(der, 32).equals(raw)).toBe(true);
  });
  it('rejects non-minimal or trailing DER', () => {
    expect(() => derToRaw(Buffer.from('3006020200010201010000', 'hex'), 32)).toThrow('SEQUENCE length');
    expect(() => derToRaw(Buffer.from('30080203000001020101', 'hex'), 32)).toThrow('non-minimal INTEGER');
    expect(() => derToRaw(Buffer.from('300602018102010100', 'hex'), 32)).toThrow();
  });
});

describe('keys and signers', () => {
  it.each(['ecdsa-p256', 'ecdsa-p384', 'ed25519'] as KeyAlg[])('%s: local signer is deterministic and verifiable', async (alg) => {
    const g = generateKey(alg);
    const s = localSigner(parsePrivateKey(g.privatePem, 'k'));
    const msg = Buffer.from('reference values');
    const a = await s.sign(msg);
    expect(Buffer.from(await s.sign(msg)).equals(Buffer.from(a))).toBe(true);
    const pub = parsePublicKey(g.publicPem, 'p');
    const hash = alg === 'ed25519' ? null : alg === 'ecdsa-p256' ? 'sha256' : 'sha384';
    expect(verify(hash, msg, alg === 'ed25519' ? pub : { key: pub, dsaEncoding: 'ieee-p1363' }, a)).toBe(true);
    expect(s.keyId).toBe(
      createHash('sha256')
        .update(pub.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
    );
  });

  it.each(['ecdsa-p256', 'ecdsa-p384', 'ed25519'] as KeyAlg[])('%s: external command signer (openssl pkeyutl)', async (alg) => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-keys-'));
    const g = generateKey(alg);
    const keyPath = join(dir, 'k.pem');
    await import('node:fs/promises').then((f) => f.writeFile(keyPath, g.privatePem, { mode: 0o600 }));
    // ECDSA: openssl signs the digest on stdin and prints DER; Ed25519 signs the raw message (OpenSSL 3.0 needs it in a file)
    const argv =
      alg === 'ed25519'
        ? ['sh', '-c', `t=$(mktemp); cat > "$t"; openssl pkeyutl -sign -rawin -inkey '${keyPath}' -in "$t"; r=$?; rm -f "$t"; exit $r`]
        : ['openssl', 'pkeyutl', '-sign', '-inkey', keyPath];
    const s = commandSigner(argv, parsePublicKey(g.publicPem, 'p'));
    const sig = await s.sign(Buffer.from('hello'));
    expect(sig.length).toBe(alg === 'ecdsa-p384' ? 96 : 64);
    await expect(commandSigner(['false'], parsePublicKey(g.publicPem, 'p')).sign(Buffer.from('x'))).rejects.toThrow('signer command false failed (exit 1)');
    const other = generateKey(alg);
    await expect(commandSigner(argv, parsePublicKey(other.publicPem, 'p')).sign(Buffer.from('x'))).rejects.toThrow('does not verify');
  });

  it('keeps a command signature that ends in a newline byte (binary stdout is not trimmed)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-keys-'));
    const g = generateKey('ed25519');
    const keyPath = join(dir, 'k.pem');
    writeFileSync(keyPath, g.privatePem, { mode: 0o600 });
    const k = createPrivateKey(g.privatePem);
    let m = 0;
    while (sign(null, Buffer.from(String(m)), k).at(-1) !== 0x0a) m++;
    const s = commandSigner(
      ['sh', '-c', `t=$(mktemp); cat > "$t"; openssl pkeyutl -sign -rawin -inkey '${keyPath}' -in "$t"; r=$?; rm -f "$t"; exit $r`],
      parsePublicKey(g.publicPem, 'p'),
    );
    expect(Buffer.from(await s.sign(Buffer.from(String(m)))).equals(sign(null, Buffer.from(String(m)), k))).toBe(true);
  });

  it('rejects unsupported keys with one line naming the file', () => {
    expect(() => parsePrivateKey('not a key', 'x.pem')).toThrow('x.pem: not a PEM private key');
    const rsa = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'], { encoding: 'utf8' });
    expect(() => parsePrivateKey(rsa, 'rsa.pem')).toThrow('rsa.pem: unsupported key type rsa');
  });
});

describe('cvm-measure keys generate', () => {
  const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(ROOT, 'schemas/keys-generate.schema.json'), 'utf8')));
  it.each(['ecdsa-p256', 'ecdsa-p384', 'ed25519'])('%s: PEM pair, private 0600, key id = sha256(SPKI) per openssl', async (alg) => {
    const dir = mkdtempSync(join(tmpdir(), 'cvm-keygen-'));
    const out = join(dir, 'release.pem');
    const r = await cli(['keys', 'generate', '--alg', alg, '--out', out, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(validate(j), JSON.stringify(validate.errors)).toBe(true);
    expect(j.publicKey).toBe(join(dir, 'release.pub.pem'));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const priv = readFileSync(out, 'utf8');
    expect(r.stdout + r.stderr).not.toContain(priv.split('\n')[1]!.slice(0, 20));
    const spki = execFileSync('openssl', ['pkey', '-pubin', '-in', j.publicKey, '-outform', 'DER']);
    expect(j.keyId).toBe(createHash('sha256').update(spki).digest('hex'));
    expect(keyId(createPublicKey(priv))).toBe(j.keyId);
    const again = await cli(['keys', 'generate', '--alg', alg, '--out', out]);
    expect(again.code).toBe(1);
    expect(errorLine(again)).toContain('already exists (use --force to overwrite)');
  });
  it('exits 2 on an unknown algorithm', async () => {
    const r = await cli(['keys', 'generate', '--alg', 'rsa', '--out', '/tmp/x.pem']);
    expect(r.code).toBe(2);
    expect(errorLine(r)).toBe('cvm-measure: error: --alg: "rsa" is not one of ecdsa-p256, ecdsa-p384, ed25519');
  });
});
