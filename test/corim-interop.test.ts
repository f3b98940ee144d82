/**
 * CoRIM as consumers read it: the SNP class-id decodes to 1.3.6.1.4.1.3704.3.1 (RFC 9090: contents
 * octets only), the profile id is the one Veraison registers unless another is chosen, and the unsigned
 * #6.501 form written beside each signed CoRIM holds the same corim-map (checked by verify_corim.py too).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { decodeCbor, type CborValue, Tagged } from '../src/formats/cbor.js';
import { oidText } from '../src/formats/der.js';
import { createManifest } from '../src/manifest/create.js';
import { snpMeasurement } from '../src/measure/snp/report.js';
import { generateKey, parsePrivateKey } from '../src/sign/keys.js';
import { localSigner } from '../src/sign/signer.js';
import { describeShared, shared } from './helpers/shared.js';

/** Every #6.111 (OID) value anywhere in a CBOR item, looking into #6.506 (an encoded concise-mid-tag). */
function oids(v: CborValue, out: string[] = []): string[] {
  if (v instanceof Tagged) {
    if (Number(v.tag) === 111) out.push(oidText(v.value as Uint8Array));
    else if (Number(v.tag) === 506) oids(decodeCbor(v.value as Uint8Array), out);
    else oids(v.value, out);
  } else if (v instanceof Map) for (const [k, x] of v) oids(k, out), oids(x, out);
  else if (Array.isArray(v)) for (const x of v) oids(x, out);
  return out;
}

describeShared('CoRIM interoperability', () => {
  const key = generateKey('ecdsa-p384');
  const signer = localSigner(parsePrivateKey(key.privatePem, 'k'));
  const snp = snpMeasurement(
    { firmware: { name: 'OVMF.fd', bytes: new Uint8Array(readFileSync(shared('fixtures/debian/debian-bookworm-ovmf-2022.11-6+deb12u2-OVMF.fd'))) } },
    { vmm: 'qemu', vcpu: { type: 'EPYC-v4' }, vcpus: [1, 2] },
  );

  it('writes the unsigned #6.501 form with the signed payload, the 2024 profile by default, the class-id as contents octets', async () => {
    const out = mkdtempSync(join(tmpdir(), 'cvm-corim-'));
    await createManifest({ measurements: snp, signer, outDir: out, formats: ['corim'], notBefore: 1767225600 });
    const signed = decodeCbor(readFileSync(join(out, 'snp.corim.cbor'))) as Tagged;
    const payload = (signed.value as CborValue[])[2] as Uint8Array;
    const unsignedBytes = readFileSync(join(out, 'snp.corim-unsigned.cbor'));
    expect(Buffer.from(unsignedBytes).equals(Buffer.from(payload))).toBe(true);
    const unsigned = decodeCbor(unsignedBytes) as Tagged;
    expect(Number(unsigned.tag)).toBe(501);
    const corimMap = unsigned.value as Map<CborValue, CborValue>;
    expect((corimMap.get(3) as Tagged).value).toBe('tag:amd.com,2024:snp-corim-profile');
    expect(oids(unsigned)).toContain('1.3.6.1.4.1.3704.3.1');
    if (existsSync('/usr/bin/python3')) {
      const r = execFileSync(
        '/usr/bin/python3',
        [shared('tools/validate/verify_corim.py'), join(out, 'snp.corim-unsigned.cbor'), '--expect', `641=7:${snp.digests['2']}`],
        { encoding: 'utf8' },
      );
      expect(r).toContain('found');
    }
    const o2025 = mkdtempSync(join(tmpdir(), 'cvm-corim-'));
    await createManifest({ measurements: snp, signer, outDir: o2025, formats: ['corim'], notBefore: 1767225600, snpProfile: '2025' });
    expect(((decodeCbor(readFileSync(join(o2025, 'snp.corim-unsigned.cbor'))) as Tagged).value as Map<CborValue, CborValue>).get(3)).toEqual(
      new Tagged(32, 'tag:amd.com,2025:snp-corim-profile'),
    );
  });
});
