import { execFileSync } from 'node:child_process';
import { createPublicKey, sign } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeCbor } from '../../src/formats/cbor.js';
import { signDeterministic } from '../../src/sign/rfc6979.js';
import { generateKey, parsePrivateKey } from '../../src/sign/keys.js';
import { verifyManifest } from '../../src/manifest/verify.js';
import { CLI, type BenchCase } from './harness.js';

/** manifest create / verify whole-process, the Python validator as a baseline, and the signing primitives in-process. */
export function manifestCases(): BenchCase[] {
  const shared = process.env.CVM_SHARED ?? resolve(import.meta.dirname, '../../../shared');
  const dir = mkdtempSync(join(tmpdir(), 'cvm-bench-manifest-'));
  const m = join(dir, 'snp.json');
  const ovmf = join(shared, 'fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd');
  execFileSync('sh', ['-c', `"${process.execPath}" "${CLI}" measure snp --firmware "${ovmf}" --vcpus 1-64 --vcpu-type EPYC-v4 --json > "${m}"`]);
  execFileSync(process.execPath, [CLI, 'keys', 'generate', '--alg', 'ecdsa-p256', '--out', join(dir, 'k.pem')]);
  const out = join(dir, 'out');
  execFileSync(process.execPath, [CLI, 'manifest', 'create', '--measurements', m, '--key', join(dir, 'k.pem'), '--out', out]);
  const corim = join(out, 'snp.corim.cbor');
  const corimBytes = readFileSync(corim);
  const pem = generateKey('ecdsa-p256').privatePem;
  const key = parsePrivateKey(pem, 'bench');
  const trusted = [createPublicKey(readFileSync(join(dir, 'k.pub.pem')))];
  const msg = Buffer.alloc(1024, 7);
  return [
    {
      name: 'manifest: create (SNP, 64 vCPU counts, all formats)',
      cli: ['manifest', 'create', '--measurements', m, '--key', join(dir, 'k.pem'), '--out', join(dir, 'o2')],
    },
    {
      name: 'manifest: verify_corim.py (python3-cbor2 baseline)',
      command: ['/usr/bin/python3', join(shared, 'tools/validate/verify_corim.py'), corim, '--pub', join(dir, 'k.pub.pem')],
    },
    {
      name: 'manifest: verify (64-triple CoRIM)',
      cli: ['manifest', 'verify', corim, '--trust', join(dir, 'k.pub.pem')],
      relativeTo: 'manifest: verify_corim.py (python3-cbor2 baseline)',
      fn: () => verifyManifest(corimBytes, { trusted }),
    },
    { name: 'manifest: ES256 RFC 6979 sign, 1 KiB (in-process)', fn: () => signDeterministic('ecdsa-p256', key, msg), runs: 51 },
    { name: 'manifest: ES256 node:crypto randomized sign, 1 KiB (in-process)', fn: () => sign('sha256', msg, { key, dsaEncoding: 'ieee-p1363' }), runs: 51 },
    { name: 'manifest: CBOR strict decode of the CoRIM (in-process)', fn: () => decodeCbor(corimBytes, { deterministic: true }), runs: 51 },
  ];
}
