/**
 * Node KeyObjects as SEV-SNP ID-block keys: the P-384 check, the public point from the key's JWK, and
 * ECDSA P-384/SHA-384 signing by node:crypto. The ID block layout itself is pure (measure/snp/id-block.ts).
 */
import { sign, type KeyObject } from 'node:crypto';
import { InputError } from '../errors.js';
import { createIdBlock, type IdBlockParams, type IdBlockResult, type SnpSigningKey } from '../measure/snp/id-block.js';

function checkP384(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new InputError(
      `${what} must be an ECDSA P-384 key (SNP supports only P-384), got ${key.asymmetricKeyType ?? key.type}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}`,
    );
  }
}

/** An SnpSigningKey backed by a P-384 private KeyObject (`what` names it in errors). */
export function snpSigningKey(privateKey: KeyObject, what = 'signing key'): SnpSigningKey {
  checkP384(privateKey, what);
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    publicKey: { x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') },
    sign: (data) => sign('sha384', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

/** createIdBlock with Node private keys for the ID and author keys. */
export function createIdBlockFromKeys(p: IdBlockParams & { idKey: KeyObject; authorKey: KeyObject }): IdBlockResult {
  return createIdBlock({ ...p, idKey: snpSigningKey(p.idKey, 'ID key'), authorKey: snpSigningKey(p.authorKey, 'author key') });
}
