/**
 * X.509 issuance check for Secure Boot db authorities (Node only: node:crypto parses the certificates).
 * The browser-ready measure layer takes it as a callback (FirmwareParams.issuedBy) and passes DER bytes in.
 */
import { X509Certificate } from 'node:crypto';

function parse(der: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

/** True when the DER certificate `cert` names `ca` as its issuer and carries a signature `ca`'s key verifies. */
export function x509IssuedBy(cert: Uint8Array, ca: Uint8Array): boolean {
  const c = parse(cert);
  const i = parse(ca);
  return Boolean(c && i && c.checkIssued(i) && c.verify(i.publicKey));
}
